#!/usr/bin/env bash
# The main job: set up, then run the rtcpeer demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/rtcpeer demo "$@"
