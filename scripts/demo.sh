#!/usr/bin/env bash
# Runs the demo on the embedded default: no servers, simulated audiences, URL printed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/engagement-conductor demo "$@"
