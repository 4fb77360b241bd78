#!/usr/bin/env bash
# Run a command in a D-Bus session and gnome-keyring of its own (scripts/with-keyring.sh), with a fresh HOME under
# the current HOME (so a hygiene scan of this HOME still covers it), even when already inside a keyring session.
#   scripts/own-keyring.sh cargo test -p quickauth-vault
set -euo pipefail
mkdir -p "$HOME/tmp"
h=$(mktemp -d "$HOME/tmp/keyring-home.XXXXXX")
mkdir -p "$h/.run" "$h/.local/share" "$h/.config" "$h/.cache"
chmod 700 "$h/.run"
exec env -u QUICKAUTH_IN_KEYRING_SESSION -u DBUS_SESSION_BUS_ADDRESS -u GNOME_KEYRING_CONTROL \
  QUICKAUTH_KEEP_HOME=1 HOME="$h" XDG_DATA_HOME="$h/.local/share" XDG_CONFIG_HOME="$h/.config" \
  XDG_CACHE_HOME="$h/.cache" XDG_RUNTIME_DIR="$h/.run" "$(dirname "$0")/with-keyring.sh" "$@"
