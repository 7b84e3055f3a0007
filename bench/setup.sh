#!/usr/bin/env bash
# Creates the benchmark-only virtualenv bench/.venv-aiortc: aiortc (from PyPI) for the side-by-side
# figures, uvloop and py-spy for the ceiling and profiles. It is separate from the project's .venv
# so aiortc's pins (cryptography, pyOpenSSL, pylibsrtp, av...) never disturb rtcpeer's.
# rtcpeer itself runs from the project's .venv (scripts/setup.sh); uvloop is installed only here.
# Usage: bash bench/setup.sh            (idempotent; PYTHON=... to pick the base interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."

# Same base interpreter as the project's .venv, so both sides run the same CPython build.
if [ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ]; then
    PYTHON=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')
fi
PY=${PYTHON:-python3}
VENV=bench/.venv-aiortc
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING' || true
"$VENV/bin/python" -m pip install -q "aiortc>=1.9" uvloop py-spy 2>&1 | grep -v '^WARNING' || true
"$VENV/bin/python" -c 'import aiortc, uvloop; print("bench venv: aiortc", aiortc.__version__)'
