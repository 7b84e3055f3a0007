#!/usr/bin/env bash
# The main job: set up (only what is missing), then run the rtcpeer demo. It prints one URL:
# open it in a browser and chat with the Python echo peer. Extra arguments go to `rtcpeer demo`
# (e.g. --port 0 for any free port, --host 0.0.0.0 for other machines).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${RTCPEER_SETUP:-auto}" = always ] || [ ! -x .venv/bin/rtcpeer ] \
    || ! .venv/bin/python -c 'import rtcpeer.cli, rtcpeer.peerconnection, aiohttp' 2>/dev/null; then
    bash scripts/setup.sh
fi
exec .venv/bin/rtcpeer demo "$@"
