#!/usr/bin/env bash
# Every check rtcpeer has: set-up, ruff (lint + format), mypy --strict on src/, and pytest.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check src tests bench examples fuzz
.venv/bin/ruff format --check src tests bench examples fuzz
echo "== mypy --strict src/"
.venv/bin/mypy src
echo "== pytest"
RTCPEER_REQUIRE_ALL=1 .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" -p no:cacheprovider "$@"
