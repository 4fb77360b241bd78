#!/usr/bin/env bash
# Bench: the webview camera path at 1280x720 in the real webview (WebKitGTK under Xvfb): frames per second that reach
# the Rust decoder and the page -> Rust -> decoded round trip, printed side by side with the targets (>= 15 frames/s,
# median <= 40 ms). Not a timed test: it never fails on the numbers.
#   scripts/bench-webview-camera.sh [--release] [--seconds N] [--mock]
# Default source: a minted label drawn on a canvas by the test (canvas.captureStream); --mock: WebKitGTK's mock
# capture device (QUICKAUTH_TEST_MOCK_CAMERA=1), which costs the page nothing to produce but shows no label.
# Same harness as scripts/webdriver-test.sh (tauri-driver, private keyring session, temp data dirs).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=debug
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release ;;
    --seconds) export QA_BENCH_SECONDS="$2"; shift ;;
    --mock) export QUICKAUTH_TEST_MOCK_CAMERA=1 ;;
    *) echo "usage: $0 [--release] [--seconds N] [--mock]" >&2; exit 2 ;;
  esac
  shift
done
QA_PROFILE=$profile QA_SHOTS="" QA_NODE_FILES=tests/webdriver/bench-camera.mjs exec scripts/webdriver-test.sh
