#!/usr/bin/env bash
# Conformance suite: the real `quickauth` CLI against an independent Python implementation of protocol.md
# (tests/conformance/). Builds the CLI (debug) unless QUICKAUTH_BIN names a prebuilt binary, then runs the suite inside a
# private D-Bus session with the real gnome-keyring (scripts/with-keyring.sh) unless already inside one
# (QUICKAUTH_IN_KEYRING_SESSION=1, as in scripts/test-inner.sh). Last line: "conformance: N passed, M failed".
#   scripts/conformance.sh            QUICKAUTH_BIN=/path/to/quickauth scripts/conformance.sh
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [ -z "${QUICKAUTH_BIN:-}" ]; then
  echo "== build quickauth-cli (debug)"
  cargo build -p quickauth-cli 2>&1 | tail -n 3
  if [ "${PIPESTATUS[0]}" -ne 0 ]; then echo "build failed"; echo "conformance: 0 passed, 1 failed"; exit 1; fi
  export QUICKAUTH_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/quickauth"
fi
if [ ! -x "$QUICKAUTH_BIN" ]; then
  echo "no quickauth binary at $QUICKAUTH_BIN (build failed?)"
  echo "conformance: 0 passed, 1 failed"
  exit 1
fi

if [ "${QUICKAUTH_IN_KEYRING_SESSION:-}" != "1" ]; then
  exec scripts/with-keyring.sh "$0" "$@"
fi

echo "== conformance: quickauth CLI vs an independent protocol server ($QUICKAUTH_BIN)"
out=$(mktemp "${TMPDIR:-/tmp}/conformance-out.XXXXXX")
(cd tests/conformance && PYTHONDONTWRITEBYTECODE=1 python3 -m unittest -v test_conformance) 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
note=""
# The suite tests the protocol, not the keyring. In full test runs (right after the WebDriver phase) the private
# gnome-keyring has, rarely, stopped answering mid-suite (a 5 s "keyring_timeout"), after which a replacement daemon
# starts locked and every later test gets "keyring_denied"; the suite alone passed 6 of 6 times in a row. When a
# failed run shows those keyring errors, the whole suite runs once more in a fresh D-Bus session and gnome-keyring
# (HOME under this one, so the scans still cover it), and that run decides; the summary line says so.
if [ "$status" -ne 0 ] && grep -qE '"type":"keyring_(timeout|denied|locked|unavailable|never_answers|unavailable_and_never_answering)"' "$out"; then
  echo "== conformance: the first run failed with the keyring daemon not answering or refusing (see above);"
  echo "   running the whole suite once more in a fresh D-Bus session and gnome-keyring"
  scripts/own-keyring.sh bash -c 'cd tests/conformance && PYTHONDONTWRITEBYTECODE=1 exec python3 -m unittest -v test_conformance' \
    2>&1 | tee "$out"
  status=${PIPESTATUS[0]}
  note=" (second run, in a fresh keyring session: the first run's keyring daemon failed)"
fi
ran=$(grep -oE '^Ran [0-9]+ test' "$out" | grep -oE '[0-9]+' | tail -n 1); ran=${ran:-0}
bad=0
for kind in failures errors; do
  n=$(grep -oE "^FAILED \(.*\)" "$out" | grep -oE "$kind=[0-9]+" | grep -oE '[0-9]+'); bad=$((bad + ${n:-0}))
done
skipped=$(grep -oE "skipped=[0-9]+" "$out" | tail -n 1 | grep -oE '[0-9]+'); skipped=${skipped:-0}
rm -f "$out"
if [ "$ran" -eq 0 ] || [ "$skipped" -gt 0 ]; then bad=$((bad + 1)); fi   # a suite that did not run is not a pass
if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
passed=$((ran - bad - skipped)); [ "$passed" -lt 0 ] && passed=0
echo "conformance: $passed passed, $bad failed$note"
[ "$bad" -eq 0 ]
