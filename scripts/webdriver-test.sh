#!/usr/bin/env bash
# QuickAuth's tests in the real webview: builds the app (debug) and the label-minting helper, then runs
# tests/webdriver/*.test.mjs (Node's built-in runner) against tauri-driver + WebKitWebDriver under Xvfb, inside a
# private D-Bus session with an unlocked gnome-keyring (scripts/with-keyring.sh) and temp data dirs.
#   scripts/webdriver-test.sh            (screenshots go to docs/screenshots/ when QA_SHOTS is unset)
#   QA_NODE_FILES=… QA_PROFILE=release   (other node files / a release build: used by scripts/bench-webview-camera.sh)
# Installs what it needs idempotently: webkit2gtk-driver + xvfb (apt), tauri-driver (cargo install --locked).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
say() { printf '\033[1;34m[webdriver]\033[0m %s\n' "$*" >&2; }

# Tools, idempotently (also when called from inside scripts/test.sh's keyring session).
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=()
# fonts-wqy-microhei: a small CJK font, so the Chinese UI in the screenshots is text, not boxes.
for p in webkit2gtk-driver xvfb xauth dbus gnome-keyring fonts-wqy-microhei; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "apt: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! command -v tauri-driver >/dev/null 2>&1; then
  say "cargo: installing tauri-driver"
  cargo install tauri-driver --locked --quiet
fi
command -v node >/dev/null 2>&1 || { echo "node (>= 18) is required for the WebDriver tests" >&2; exit 1; }

if [ "${QUICKAUTH_IN_KEYRING_SESSION:-}" != "1" ]; then
  exec scripts/with-keyring.sh "$0" "$@"
fi
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PROFILE="${QA_PROFILE:-debug}"
say "building the app, the label helper and the CLI ($PROFILE, target $TARGET)"
if [ -n "${QA_SKIP_BUILD:-}" ]; then
  say "QA_SKIP_BUILD: using the binaries already in $TARGET/$PROFILE"
elif [ "$PROFILE" = release ]; then
  cargo build --release -p quickauth-app -p quickauth-cli --bins --example mint_labels --quiet
else
  cargo build -p quickauth-app -p quickauth-cli --bins --example mint_labels --quiet
fi
APP="$TARGET/$PROFILE/quickauth-app"
MINT="$TARGET/$PROFILE/examples/mint_labels"
CLI="$TARGET/$PROFILE/quickauth"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/quickauth-wd.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A free X display and free driver ports.
for n in $(seq 91 140); do
  if [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ]; then DISPLAY_NUM=$n; break; fi
done
# Tall enough for the 820x1180 tablet window of the layout test.
Xvfb ":$DISPLAY_NUM" -screen 0 1400x1280x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY=":$DISPLAY_NUM"
for _ in $(seq 1 50); do [ -e "/tmp/.X11-unix/X$DISPLAY_NUM" ] && break; sleep 0.1; done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
PORT=$(free_port); NATIVE=$(free_port)
# The app's data dir comes from --data-dir per test session; an inherited env var would override it.
unset QUICKAUTH_DATA_DIR
# Native dialogs (reveal/copy confirmation, save, open) are answered from this file by the app's test switch; while
# it does not exist every dialog is cancelled, as a user who did not ask for it would. Tests write answers into it.
export QUICKAUTH_TEST_DIALOGS="$WORK/dialogs.json" QA_DIALOGS="$WORK/dialogs.json"
# The app inherits this environment: debug-level logs give a leak every chance to show up in the check below.
RUST_LOG="${RUST_LOG:-debug}" tauri-driver --port "$PORT" --native-port "$NATIVE" >"$WORK/tauri-driver.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/status" >/dev/null 2>&1 && break
  sleep 0.1
done

export QA_APP="$APP" QA_MINT="$MINT" QA_CLI="$CLI" QA_DRIVER="http://127.0.0.1:$PORT" QA_WORK="$WORK" QA_LEDGER="$WORK/secrets.txt"
export QA_SHOTS="${QA_SHOTS-$ROOT/docs/screenshots}"   # set but empty: no screenshots
say "running the WebDriver tests (display $DISPLAY, driver :$PORT)"
status=0
# shellcheck disable=SC2086  # a list of files
node --test --test-concurrency=1 --test-reporter=spec ${QA_NODE_FILES:-tests/webdriver/*.test.mjs} || status=$?
# Every secret the tests used (profile secrets, label keys, revealed tokens) must be absent from the app's log.
if [ -s "$WORK/secrets.txt" ]; then
  leaks=$(grep -c -F -f "$WORK/secrets.txt" "$WORK/tauri-driver.log" || true)
  if [ "${leaks:-0}" -ne 0 ]; then
    say "FAIL: $leaks line(s) of the app's log contain a secret used by the tests"
    status=1
  else
    say "app log ($(wc -l <"$WORK/tauri-driver.log") lines at RUST_LOG=${RUST_LOG:-debug}) holds none of the $(sort -u "$WORK/secrets.txt" | wc -l) secrets used"
  fi
  # Nor may any file the webview or the app left in this session's HOME (WebKit storage/caches, data dirs) hold one.
  # (Keyring files are encrypted by gnome-keyring; the test's own temp dir is $WORK.)
  hits=$(grep -rl -F -f "$WORK/secrets.txt" "$HOME" --exclude-dir=keyrings 2>/dev/null | grep -v -F "$WORK" | wc -l || true)
  if [ "${hits:-0}" -ne 0 ]; then
    say "FAIL: $hits file(s) under the session HOME contain a secret used by the tests"
    status=1
  fi
else
  say "FAIL: the tests recorded no secrets to check the log against"
  status=1
fi
if [ "$status" -ne 0 ]; then
  say "failed; tauri-driver log tail (secret-bearing lines removed):"
  tail -n 40 "$WORK/tauri-driver.log" | grep -v -F -f "$WORK/secrets.txt" >&2 || true
  # The tail is the last test's; a failure earlier in the run shows in the warnings, errors and panics of the whole
  # log (the apps of every test), which are kept here too.
  say "warnings, errors and panics in the whole log (secret-bearing lines removed):"
  grep -n -E ' (WARN|ERROR) |panicked|SIG[A-Z]+|Aborted|core dumped' "$WORK/tauri-driver.log" \
    | grep -v -F -f "$WORK/secrets.txt" | tail -n 80 >&2 || true
fi
exit "$status"
