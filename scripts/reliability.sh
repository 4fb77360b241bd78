#!/usr/bin/env bash
# Reliability run: builds qa-reliability and runs it inside a private keyring session (scripts/with-keyring.sh), injecting
# at least 1,000 faults over a fleet of sandbox printers, then regenerates docs/reliability.md.
#   scripts/reliability.sh            # release build, 1000 faults
#   scripts/reliability.sh --debug    # debug build (faster to compile, slower to run)
#   FAULTS=2000 scripts/reliability.sh
#   scripts/reliability.sh --debug --delivery-only   # only the webhook delivery matrix; replaces its section in place
#   scripts/reliability.sh --debug --counter-wait-only   # only "waiting at the counter" (interactive budget); same
# Exit status is non-zero when a token was lost, an error was not the specific expected one, or any check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PROFILE=release
if [ "${1:-}" = "--debug" ]; then PROFILE=debug; shift; fi
FAULTS="${FAULTS:-1000}"

if [ "$PROFILE" = release ]; then
  cargo build --release -p quickauth-reliability --bin qa-reliability
else
  cargo build -p quickauth-reliability --bin qa-reliability
fi
BIN="$CARGO_TARGET_DIR/$PROFILE/qa-reliability"
REPORT="$ROOT/docs/reliability.md"
# The run's data dir lives under the session's throwaway HOME (with-keyring.sh), so nothing outlives the run.
exec scripts/with-keyring.sh bash -c '"$1" --faults "$2" --report "$3" --data-dir "$HOME/qa-reliability-data" "${@:4}"' \
  _ "$BIN" "$FAULTS" "$REPORT" "$@"
