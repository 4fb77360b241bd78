#!/usr/bin/env bash
# Run CMD against a real but LOCKED gnome-keyring, in a private D-Bus session and a throwaway HOME.
#   locked-keyring.sh CMD...
# CMD runs twice: first with QA_KEYRING_PHASE=seed while the login keyring is unlocked (to store an entry), then
# with QA_KEYRING_PHASE=locked after the daemon was replaced by one started WITHOUT --unlock, so the login keyring
# (and the seeded item) is locked and any access needs an unlock prompt. With DISPLAY unset the prompter cannot
# start (the prompt is dismissed at once); run this under xvfb-run to get a prompt window that nobody answers.
set -euo pipefail
if [ "${QA_LOCKED_INNER:-}" != "1" ]; then
  export QA_LOCKED_INNER=1
  QA_HOME=$(mktemp -d "${TMPDIR:-/tmp}/quickauth-locked.XXXXXX")
  trap 'rm -rf "$QA_HOME"' EXIT
  export HOME="$QA_HOME" XDG_DATA_HOME="$QA_HOME/.local/share" XDG_CONFIG_HOME="$QA_HOME/.config" \
    XDG_CACHE_HOME="$QA_HOME/.cache" XDG_RUNTIME_DIR="$QA_HOME/.run"
  mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR"
  chmod 700 "$XDG_RUNTIME_DIR"
  dbus-run-session -- "$0" "$@"
  exit $?
fi

wait_for_secrets() {
  for _ in $(seq 1 50); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
         org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
      return 0
    fi
    sleep 0.1
  done
  echo "locked-keyring.sh: gnome-keyring never claimed org.freedesktop.secrets" >&2
  return 1
}

# Phase 1: unlocked login keyring with a known password; the seed step writes through the real vault.
eval "$(printf 'pass' | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)"
wait_for_secrets
QA_KEYRING_PHASE=seed "$@"
test -s "$XDG_DATA_HOME/keyrings/login.keyring" || { echo "locked-keyring.sh: no login.keyring on disk" >&2; exit 1; }

# Phase 2: a fresh daemon without --unlock loads the same login keyring, locked.
gnome-keyring-daemon --replace --components=secrets >/dev/null 2>&1
sleep 0.3
wait_for_secrets
QA_KEYRING_PHASE=locked "$@"
