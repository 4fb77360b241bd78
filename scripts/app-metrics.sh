#!/usr/bin/env bash
# Measures the desktop app and prints: release binary size, .deb size, cold start to first paint under Xvfb
# (process launch -> the page's first painted frame, reported by the page through the `first_paint` command),
# and idle memory (RSS of the app and of its WebKit helper processes) 10 s after first paint.
#   scripts/app-metrics.sh [runs]      (default 3 start-up runs; builds the release .deb first if it is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS="${1:-3}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/release/quickauth-app"

if [ "${QUICKAUTH_IN_KEYRING_SESSION:-}" != "1" ]; then
  if [ ! -x "$BIN" ] || ! ls "$TARGET"/release/bundle/deb/*.deb >/dev/null 2>&1; then
    echo "[metrics] building the release binary and .deb (npx tauri build --bundles deb)" >&2
    [ -d node_modules/@tauri-apps/cli ] || npm ci --silent
    TAURI_APP_PATH=src-tauri npx tauri build --bundles deb >&2
  fi
  exec scripts/with-keyring.sh "$0" "$@"
fi

DEB=$(ls -t "$TARGET"/release/bundle/deb/*.deb | head -n1)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/quickauth-metrics.XXXXXX")
xpid=""
cleanup() {
  [ -n "${apid:-}" ] && kill "$apid" 2>/dev/null || true
  [ -n "$xpid" ] && kill "$xpid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

for n in $(seq 141 190); do
  if [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ]; then DISPLAY_NUM=$n; break; fi
done
Xvfb ":$DISPLAY_NUM" -screen 0 1280x860x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
xpid=$!
export DISPLAY=":$DISPLAY_NUM"
for _ in $(seq 1 50); do [ -e "/tmp/.X11-unix/X$DISPLAY_NUM" ] && break; sleep 0.1; done
unset QUICKAUTH_DATA_DIR QUICKAUTH_FRAMES

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

starts=()
app_rss=0; total_rss=0
for i in $(seq 1 "$RUNS"); do
  data="$WORK/data-$i"; mkdir -p "$data"
  out="$WORK/run-$i.out"
  t0=$(date +%s%3N)
  "$BIN" --metrics --data-dir "$data" >"$out" 2>"$WORK/run-$i.err" &
  apid=$!
  paint=""
  for _ in $(seq 1 600); do
    paint=$(sed -n 's/.*QUICKAUTH_FIRST_PAINT unix_ms=\([0-9]*\).*/\1/p' "$out" | head -n1)
    [ -n "$paint" ] && break
    kill -0 "$apid" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$paint" ]; then
    echo "run $i: the app did not report a first paint; stderr tail:" >&2
    tail -n 20 "$WORK/run-$i.err" >&2
    exit 1
  fi
  starts+=($((paint - t0)))
  if [ "$i" -eq "$RUNS" ]; then
    # Idle: the page is up, no camera, no frame source. Sample 10 s after first paint.
    sleep 10
    app_rss=$(rss_kb "$apid")
    total_rss=$app_rss
    for c in $(pgrep -P "$apid" || true) $(for c in $(pgrep -P "$apid" || true); do pgrep -P "$c" || true; done); do
      total_rss=$((total_rss + $(rss_kb "$c")))
    done
  fi
  kill "$apid" 2>/dev/null || true
  wait "$apid" 2>/dev/null || true
  apid=""
done

sorted=$(printf '%s\n' "${starts[@]}" | sort -n)
median=$(printf '%s\n' "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "QuickAuth app metrics ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, Xvfb)"
echo "  release binary        $(kib_to_mib $(( $(stat -c %s "$BIN") / 1024 ))) MiB  ($BIN)"
echo "  .deb package          $(kib_to_mib $(( $(stat -c %s "$DEB") / 1024 ))) MiB  ($(basename "$DEB"))"
echo "  start -> first paint  median ${median} ms over $RUNS runs (each: ${starts[*]} ms)"
echo "  idle RSS after 10 s   app $(kib_to_mib "$app_rss") MiB; with WebKit helper processes $(kib_to_mib "$total_rss") MiB"
