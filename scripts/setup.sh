#!/usr/bin/env bash
# Install what QuickAuth needs on a Debian machine, idempotently: a second run installs nothing and takes seconds.
#   scripts/setup.sh          build + run the app
#   scripts/setup.sh --test   also what the test suite needs (keyring, Xvfb, WebDriver, tauri-driver)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

apt_pkgs=(libwebkit2gtk-4.1-dev build-essential libssl-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
          pkg-config libclang-dev libdbus-1-dev curl file gnome-keyring dbus dbus-user-session)
if [ "$want_test" = 1 ]; then
  apt_pkgs+=(xvfb webkit2gtk-driver libsecret-tools xauth)
  # scripts/check-mobile.sh: C build scripts (ring, libsqlite3-sys, mozjpeg-sys) cross-compiled with clang.
  apt_pkgs+=(clang lld llvm libc6-dev-arm64-cross)
fi

missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "apt: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "apt: all ${#apt_pkgs[@]} packages present"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust with rustup (https://rustup.rs) and re-run." >&2
  exit 1
fi

if [ "$want_test" = 1 ]; then
  # scripts/check-mobile.sh type-checks these targets (no NDK or Xcode needed for a check).
  for t in aarch64-linux-android aarch64-apple-ios; do
    if rustup target list --installed 2>/dev/null | grep -qx "$t"; then
      say "rustup: target $t present"
    else
      say "rustup: adding target $t"
      rustup target add "$t" >/dev/null
    fi
  done
  if ! command -v tauri-driver >/dev/null 2>&1; then
    say "cargo: installing tauri-driver"
    cargo install tauri-driver --locked --quiet
  else
    say "tauri-driver present"
  fi
fi
