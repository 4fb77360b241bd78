#!/usr/bin/env bash
# Set up and start the QuickAuth desktop app. With no configuration it opens on the built-in Sandbox profile
# (a protocol-faithful Yilianyun/Lingju stand-in on loopback), so everything works without credentials.
#   scripts/run-app.sh [app args, e.g. --frames ./some/labels]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo run --release -p quickauth-app -- "$@"
