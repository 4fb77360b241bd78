#!/usr/bin/env bash
# Runs inside scripts/with-keyring.sh (private session bus, unlocked keyring, temp HOME). Called by scripts/test.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
LOGS="$QUICKAUTH_TEST_LOGS"
export TMPDIR="$HOME/tmp"; mkdir -p "$TMPDIR"   # every temp dir a test makes lives under the scanned HOME
export RUST_LOG="${RUST_LOG:-debug}"             # the hygiene scan wants debug-level logs to have had the chance to leak
export QUICKAUTH_SECRET_LEDGER="$LOGS/secret-ledger.txt"   # values used by scenario runs, for the scan (outside HOME)
status=0

# A Secret Service client killed in the middle of a call (the crash and kill -9 episodes) can leave the shared
# gnome-keyring refusing everyone after it ("unlock prompt was dismissed"). So each phase that kills processes, and
# each later phase, gets a D-Bus session and gnome-keyring of its own, with a HOME under this run's HOME (the
# hygiene scan still covers it).
own_keyring() {
  scripts/own-keyring.sh "$@"
}

# The crates whose tests use the real keyring run each test binary in a keyring session of its own: the CLI's
# crash tests kill clients mid-call, and once (2026-11-30) the core's service tests that ran after them in a shared
# session found the daemon gone (D-Bus activated a fresh one, which could not unlock without a prompt).
echo "== cargo test (workspace; the keyring-bound crates' test binaries each in their own keyring session)"
own_keyring cargo test --workspace --all-targets --locked --no-fail-fast --exclude quickauth-reliability --exclude quickauth-vault \
  --exclude quickauth-cli --exclude quickauth-core 2>&1 | tee "$LOGS/cargo-test.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
for crate in vault reliability cli core; do
  units=(--lib --bins)
  [ -f "crates/$crate/src/lib.rs" ] || units=(--bins)
  own_keyring cargo test -p "quickauth-$crate" "${units[@]}" --locked --no-fail-fast 2>&1 | tee "$LOGS/cargo-test-$crate-lib.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  for t in crates/$crate/tests/*.rs; do
    name=$(basename "$t" .rs)
    # The vault's tests drive one gnome-keyring hard (concurrent openers, cut-off migrations): one test at a time.
    threads=()
    [ "$crate" = vault ] && threads=(-- --test-threads=1)
    own_keyring cargo test -p "quickauth-$crate" --test "$name" --locked --no-fail-fast "${threads[@]}" 2>&1 \
      | tee "$LOGS/cargo-test-$crate-$name.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  done
done

if [ -x scripts/webdriver-test.sh ]; then
  echo "== WebDriver tests in the real webview"
  own_keyring scripts/webdriver-test.sh 2>&1 | tee "$LOGS/webdriver.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

if [ -x scripts/conformance.sh ]; then
  echo "== conformance: the CLI against an independent protocol server"
  own_keyring env QUICKAUTH_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/quickauth" \
    scripts/conformance.sh 2>&1 | tee "$LOGS/conformance.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

if [ -x scripts/check-mobile.sh ]; then
  echo "== mobile type check: cargo check for Android/iOS (nothing is built or run for a phone here)"
  scripts/check-mobile.sh 2>&1 | tee "$LOGS/mobile-check.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

if [ -x scripts/hygiene-check.sh ]; then
  echo "== secret hygiene scan"
  # Its own keyring too; it still scans this run's whole HOME.
  own_keyring env QUICKAUTH_SCAN_ROOT="$HOME" scripts/hygiene-check.sh 2>&1 | tee "$LOGS/hygiene.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

# One closing line for the whole run, summed over every runner's own summary lines.
passed=$(grep -hoE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$LOGS"/*.log | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -hoE 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$LOGS"/*.log | grep -oE '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
# node --test: "# pass N" (tap) or "ℹ pass N" (spec reporter).
other_pass=$(grep -haoE '^(#|ℹ) pass [0-9]+' "$LOGS"/*.log | awk '{s+=$3} END {print s+0}')
other_fail=$(grep -haoE '^(#|ℹ) fail [0-9]+' "$LOGS"/*.log | awk '{s+=$3} END {print s+0}')
# conformance.sh, hygiene-check.sh and check-mobile.sh: "NAME: N passed, M failed".
sum_pass=$(grep -hoE '^(hygiene|conformance|mobile-check): [0-9]+ passed, [0-9]+ failed' "$LOGS"/*.log | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
sum_fail=$(grep -hoE '^(hygiene|conformance|mobile-check): [0-9]+ passed, [0-9]+ failed' "$LOGS"/*.log | grep -oE '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
echo "cargo test: $passed passed, $failed failed; webdriver: $other_pass passed, $other_fail failed; conformance+hygiene+mobile-check: $sum_pass passed, $sum_fail failed"
tdir="${CARGO_TARGET_DIR:-$PWD/target}"
echo "disk: target/ holds $(du -sh "$tdir" 2>/dev/null | cut -f1); $(df -Ph "$tdir" 2>/dev/null | awk 'NR==2 {print $4}') left free"
total_pass=$((passed + other_pass + sum_pass)); total_fail=$((failed + other_fail + sum_fail))
if [ "$status" -ne 0 ] && [ "$total_fail" -eq 0 ]; then total_fail=1; fi
echo
echo "$total_pass passed, $total_fail failed"
exit "$status"
