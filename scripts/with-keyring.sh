#!/usr/bin/env bash
# Run a command inside a private D-Bus session with an unlocked gnome-keyring (Secret Service) and a throwaway HOME.
# Tests use the real keyring this way; nothing touches the user's own session or keyring.
#   scripts/with-keyring.sh cargo test -p quickauth-vault
set -euo pipefail
if [ "${QUICKAUTH_IN_KEYRING_SESSION:-}" != "1" ]; then
  export QUICKAUTH_IN_KEYRING_SESSION=1
  if [ -z "${QUICKAUTH_KEEP_HOME:-}" ]; then
    # Toolchains live under the real HOME: pin them before HOME moves.
    export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
    export PYENV_ROOT="${PYENV_ROOT:-$HOME/.pyenv}" npm_config_cache="${npm_config_cache:-$HOME/.npm}"
    QA_HOME=$(mktemp -d /tmp/quickauth-home.XXXXXX)
    export HOME="$QA_HOME" XDG_DATA_HOME="$QA_HOME/.local/share" XDG_CONFIG_HOME="$QA_HOME/.config" \
      XDG_CACHE_HOME="$QA_HOME/.cache" XDG_RUNTIME_DIR="$QA_HOME/.run"
    mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR"
    chmod 700 "$XDG_RUNTIME_DIR"
  fi
  # A daemon that exits mid-run is replaced by D-Bus activation. Point that activation (the session bus reads
  # $XDG_DATA_HOME/dbus-1/services before the system's) at a starter that unlocks it, as the first one was.
  : "${XDG_DATA_HOME:?QUICKAUTH_KEEP_HOME needs XDG_DATA_HOME set to a throwaway directory (scripts/own-keyring.sh does)}"
  mkdir -p "$XDG_DATA_HOME/dbus-1/services"
  printf '[D-BUS Service]\nName=org.freedesktop.secrets\nExec=%s/keyring-daemon-unlocked.sh\n' \
    "$(cd "$(dirname "$0")" && pwd)" >"$XDG_DATA_HOME/dbus-1/services/org.freedesktop.secrets.service"
  exec dbus-run-session -- "$0" "$@"
fi
# Inside the session bus: start an unlocked Secret Service. gnome-keyring prints env assignments; keep them.
eval "$(printf 'pass' | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)" || true
export GNOME_KEYRING_CONTROL SSH_AUTH_SOCK 2>/dev/null || true
# Give the daemon a moment to claim org.freedesktop.secrets.
for _ in $(seq 1 50); do
  if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
       org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
    break
  fi
  sleep 0.1
done
# The daemon owning the name is not yet a usable keyring: a first write can meet a login collection that is still
# locked ("unlock prompt was dismissed"). Prove a write works; if not, hand the daemon the password again.
# The write is proved twice, a moment apart: twice in CI the daemon that passed the first proof was gone by the
# time the tests started, and D-Bus started a fresh, locked one for their first call.
if command -v secret-tool >/dev/null 2>&1; then
  keyring_writes() {
    printf 'probe' | timeout 3 secret-tool store --label='quickauth keyring probe' quickauth-probe 1 2>/dev/null \
      && timeout 3 secret-tool clear quickauth-probe 1 2>/dev/null
  }
  for _ in $(seq 1 20); do
    if keyring_writes && sleep 0.3 && keyring_writes; then
      break
    fi
    printf 'pass' | timeout 5 gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 || true
    sleep 0.25
  done
fi
"$@"
