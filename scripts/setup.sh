#!/usr/bin/env bash
# Installs everything rtcpeer's demo and tests need on a fresh Debian machine (run as root):
# system packages (Chromium for interop tests, Redis for scale-out, coturn, iproute2/iptables for
# the NAT lab) and a virtualenv at .venv with rtcpeer and its extras.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(chromium firefox-esr redis-server coturn iproute2 iptables openssl ca-certificates)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "setup: installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # The distribution's service scripts must not keep redis/coturn running: tests start their own.
    (service redis-server stop || true) >/dev/null 2>&1
    (service coturn stop || true) >/dev/null 2>&1
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING' || true
.venv/bin/python -m pip install -q -e '.[dev,media,redis,fuzz]' 2>&1 | grep -v '^WARNING' || true
.venv/bin/python -c 'import rtcpeer, OpenSSL, aiohttp, google_crc32c' # fail loudly if the install did not work
# aiortc, the incumbent, lives in its own virtualenv: the benchmarks and the aiortc interop tests
# run it in child processes, so its pins never disturb rtcpeer's.
bash bench/setup.sh
