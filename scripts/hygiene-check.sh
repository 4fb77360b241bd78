#!/usr/bin/env bash
# Secret hygiene check (issue: token lifecycle, item 6).
# Runs a full CLI scenario at debug logging against the built-in sandbox, records every secret and token value that
# was used or issued (via the explicit --reveal path, written to a ledger OUTSIDE $HOME), then searches every file under
# $HOME (data dirs, temp dirs, WebKit/keyring caches), all logs and all captured stdout/stderr of the whole test run for
# each value. Expected hits: zero. Must run inside scripts/with-keyring.sh (temp HOME, real keyring).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOGS="${QUICKAUTH_TEST_LOGS:-$ROOT/test-output}"; mkdir -p "$LOGS"
LEDGER="${QUICKAUTH_SECRET_LEDGER:-$LOGS/secret-ledger.txt}"
QA="${QUICKAUTH_BIN:-$ROOT/target/debug/quickauth}"
export RUST_LOG="${RUST_LOG:-debug}"
export QUICKAUTH_DATA_DIR="$HOME/hygiene-data"
SCEN_OUT="$LOGS/hygiene-scenario.out"; SCEN_ERR="$LOGS/hygiene-scenario.err"
REVEALS="$(dirname "$LEDGER")/hygiene-reveals"; mkdir -p "$REVEALS"   # the explicit reveals: outside HOME, not scanned
: > "$SCEN_OUT"; : > "$SCEN_ERR"
pass=0; fail=0
ok() { pass=$((pass+1)); echo "ok   $*"; }
bad() { fail=$((fail+1)); echo "FAIL $*"; }

[ -x "$QA" ] || { echo "no quickauth binary at $QA (build first)"; echo "hygiene: 0 passed, 1 failed"; exit 1; }

run() { "$QA" "$@" >>"$SCEN_OUT" 2>>"$SCEN_ERR"; }
json_field() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d.get(sys.argv[1]) or "")' "$1"; }
reveal() { # $1 = device id; appends both tokens to the ledger
  local f="$REVEALS/reveal-$1-$RANDOM.json"
  if "$QA" token "$1" --reveal --yes --json >"$f" 2>>"$SCEN_ERR"; then
    json_field access_token <"$f" >>"$LEDGER"; json_field refresh_token <"$f" >>"$LEDGER"
  fi
}

# 1. The built-in sandbox app secret and Lingju credentials are secrets too (public constants, but they must not leak into
#    files either): take them from the sandbox crate's source.
grep -hoE 'BUILTIN_[A-Z_]*(SECRET|APPKEY|AUTHCODE)[^=]*= *"[^"]+"' crates/sandbox/src/*.rs 2>/dev/null \
  | sed -E 's/.*"([^"]+)"/\1/' >>"$LEDGER"

# 2. Scenario: authorize by qr_key payload, msign, manual entry; refresh; a lost refresh reply; status; print; forget.
devices=()
for fmt in json url kv hash; do
  payload=$("$QA" sandbox mint --format "$fmt" 2>>"$SCEN_ERR")
  echo "$payload" | python3 -c 'import sys,re; t=sys.stdin.read(); [print(m) for m in re.findall(r"[0-9a-f]{16}",t)]' >>"$LEDGER"
  out=$("$QA" authorize --payload "$payload" --json 2>>"$SCEN_ERR"); echo "$out" >>"$SCEN_OUT"
  id=$(echo "$out" | json_field id 2>/dev/null); [ -n "$id" ] && devices+=("$id")
done
payload=$("$QA" sandbox mint --msign --format kv 2>>"$SCEN_ERR")
echo "$payload" | sed -nE 's/.*msign=([a-z0-9]+).*/\1/p' >>"$LEDGER"
# A label with a permanent msign is read from stdin: the CLI refuses it as an argument.
out=$(printf '%s\n' "$payload" | "$QA" authorize --payload - --json 2>>"$SCEN_ERR"); echo "$out" >>"$SCEN_OUT"
id=$(echo "$out" | json_field id 2>/dev/null); [ -n "$id" ] && devices+=("$id")
[ "${#devices[@]}" -ge 5 ] && ok "scenario authorized ${#devices[@]} printers" || bad "scenario authorized only ${#devices[@]} of 5 printers"

for d in "${devices[@]}"; do reveal "$d"; done
for d in "${devices[@]}"; do run refresh "$d" --json; reveal "$d"; done
run refresh --all --json
for d in "${devices[@]}"; do reveal "$d"; run status "$d"; run print-test "$d"; run token "$d"; run token "$d" --json; done
run list --json; run list; run history --json; run history
[ "${#devices[@]}" -gt 0 ] && run forget "${devices[0]}" --remote
# error paths print messages: make sure they don't echo secrets either
run authorize --machine-code 4004000001 --qr-key 0000000000000000 --json
run authorize --payload "not a label" --json
# 2b. Delivery (issue 9): a delivered device's pairs go to the test receiver over a signed webhook, then it is handed
#     over. The outbox (SQLite), `deliveries`, the logs and the receiver's own output are all scanned below; the
#     receiver keeps request bodies in memory only, so nothing is excluded.
whsec=$("$QA" profile delivery sandbox --webhook http://127.0.0.1:9/none --generate-secret --json 2>>"$SCEN_ERR" | json_field secret)
echo "$whsec" >>"$LEDGER"
RX_OUT="$LOGS/hygiene-receiver.out"; : >"$RX_OUT"
printf '%s\n' "$whsec" | "$QA" sandbox receiver >"$RX_OUT" 2>>"$SCEN_ERR" &
rx_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$RX_OUT" 2>/dev/null && break; sleep 0.1; done
rx_url=$(sed -nE 's/.*listening on (http[^ ]+).*/\1/p' "$RX_OUT" | head -n 1)
printf '%s\n' "$whsec" | run profile delivery sandbox --webhook "$rx_url" --ownership delivered
payload=$("$QA" sandbox mint 2>>"$SCEN_ERR")
echo "$payload" | python3 -c 'import sys,re; t=sys.stdin.read(); [print(m) for m in re.findall(r"[0-9a-f]{16}",t)]' >>"$LEDGER"
out=$("$QA" authorize --payload "$payload" --json 2>>"$SCEN_ERR"); echo "$out" >>"$SCEN_OUT"
did=$(echo "$out" | json_field id 2>/dev/null)
if [ -n "$did" ]; then
  run deliver; reveal "$did"
  run refresh "$did" --json; run deliver --json; reveal "$did"
  run handover "$did" --json
  run deliveries --json; run deliveries; run list --json; run list
fi
sleep 0.5; kill "$rx_pid" 2>/dev/null; wait "$rx_pid" 2>/dev/null
received=$(grep -c '^msg_' "$RX_OUT" || true)
[ "$received" -ge 3 ] && ok "delivery scenario: the receiver verified $received signed events (authorized, refreshed, handed_over)" \
  || bad "delivery scenario: the receiver got $received of 3 events"

sort -u -o "$LEDGER" "$LEDGER"
sed -i '/^$/d' "$LEDGER"
n_values=$(wc -l <"$LEDGER")
[ "$n_values" -ge 15 ] && ok "ledger holds $n_values distinct secret/token values" || bad "ledger holds only $n_values values"

# 3. Scan. Values shorter than 8 chars are too generic to search for; none of ours are.
scan_targets=("${QUICKAUTH_SCAN_ROOT:-$HOME}" "$LOGS")
hits=0
while IFS= read -r v; do
  [ "${#v}" -ge 8 ] || continue
  while IFS= read -r f; do
    case "$f" in "$LEDGER"|"$REVEALS"/*) continue ;; esac
    hits=$((hits+1)); echo "  secret value found in: $f"
  done < <(grep -rlF --binary-files=text -- "$v" "${scan_targets[@]}" 2>/dev/null)
done <"$LEDGER"
# The scan must be able to fail: plant one value under HOME and require that the same search finds it.
canary_value=$(head -n 1 "$LEDGER"); canary="$HOME/.hygiene-canary"
printf 'x%sx\n' "$canary_value" >"$canary"
if grep -rlF --binary-files=text -- "$canary_value" "$HOME" 2>/dev/null | grep -qx "$canary"; then ok "scan detects a planted value (canary)"
else bad "scan failed to detect a planted value"; fi
rm -f "$canary"
files_scanned=$(find "${scan_targets[@]}" -type f 2>/dev/null | wc -l)
if [ "$hits" -eq 0 ]; then ok "0 hits for $n_values values across $files_scanned files under HOME and the test logs"
else bad "$hits file(s) contain a secret or token value"; fi
echo "hygiene: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
