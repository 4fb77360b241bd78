#!/usr/bin/env bash
# The one command that sets up and runs every QuickAuth test on a fresh Debian machine.
#   scripts/test.sh
# 1. installs what the tests need (idempotent), 2. builds the workspace, 3. inside a private D-Bus session with a real,
# unlocked gnome-keyring and a throwaway HOME: unit + integration tests (real HTTP on loopback against the sandbox),
# the real-webview WebDriver tests under Xvfb, and the secret-hygiene scan over everything the run left behind.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=never
export QUICKAUTH_TEST_LOGS="${QUICKAUTH_TEST_LOGS:-$ROOT/test-output}"
rm -rf "$QUICKAUTH_TEST_LOGS"; mkdir -p "$QUICKAUTH_TEST_LOGS"
# A test run starts from a clean clone: incremental caches would only take disk (2.7 GB), never save a rebuild.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
free_gb() { df -Pk "$1" 2>/dev/null | awk 'NR==2 {printf "%.1f", $4/1048576}'; }
echo "== disk: $(free_gb "$ROOT") GB free for target/ (a clean run of this command leaves about 5.5 GB in target/)"

scripts/setup.sh --test

echo "== build (workspace, all targets)"
cargo build --workspace --all-targets --locked 2>&1 | tail -n 3

exec scripts/with-keyring.sh scripts/test-inner.sh
