#!/usr/bin/env bash
# Type-check the workspace for Android (aarch64-linux-android) and the pure-Rust crates for iOS (aarch64-apple-ios).
#
# THIS IS A TYPE CHECK (`cargo check`), NOT A BUILD: nothing is linked, no APK or iOS app is produced and nothing
# runs on a phone. It exists so that a desktop-only API, a missing keyring store or a desktop-only dependency can
# never slip into the code the phones build again. The APK and the iOS app are built by .github/workflows/mobile.yml
# on runners with the Android SDK/NDK and Xcode, which this machine does not have.
#
# No NDK here: the C build scripts (ring, libsqlite3-sys, mozjpeg-sys) are compiled with Debian's clang for an
# Android target against the arm64 glibc headers (libc6-dev-arm64-cross). That is good enough for cargo check,
# whose build scripts only need the C code to compile, not to link into an app.
#
# Setup (scripts/setup.sh --test does it): rustup targets aarch64-linux-android aarch64-apple-ios; apt clang lld
# llvm libc6-dev-arm64-cross.
#
# Ends with `mobile-check: N passed, M failed` (one per target check), which scripts/test-inner.sh counts.
set -uo pipefail
cd "$(dirname "$0")/.."

# The app crate (src-tauri, quickauth-app) joins the Android check once its mobile-capable lib (lib.rs with run()
# behind mobile_entry_point, nokhwa behind cfg(desktop)) has landed. The lead flips this to 1 then.
INCLUDE_APP="${QUICKAUTH_MOBILE_CHECK_APP:-0}"

# iOS: only crates whose whole dependency tree builds without an Apple SDK. ring and libsqlite3-sys need the iOS
# SDK's C headers, so protocol/sandbox/core/cli/vault (reqwest+rustls -> ring; rusqlite bundled) are Android-only
# here and are type-checked for iOS by the CI workflow's Xcode build.
IOS_PACKAGES=(quickauth-qr)

# Our own target dir inside the normal one (so .gitignore covers it) keeps the host build cache untouched.
BASE_TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_TARGET_DIR="$BASE_TARGET/mobile-check"

export CC_aarch64_linux_android=clang
export AR_aarch64_linux_android=llvm-ar
export CFLAGS_aarch64_linux_android="--target=aarch64-linux-android24 -isystem /usr/aarch64-linux-gnu/include"

passed=0
failed=0
started=$(date +%s)

run_check() { # NAME CMD...
  local name="$1"; shift
  local t0; t0=$(date +%s)
  echo "== mobile-check $name (type check only): $*"
  if "$@"; then
    echo "-- $name: ok ($(( $(date +%s) - t0 )) s)"
    passed=$((passed + 1))
  else
    echo "-- $name: FAILED ($(( $(date +%s) - t0 )) s)"
    failed=$((failed + 1))
  fi
}

for t in aarch64-linux-android aarch64-apple-ios; do
  if ! rustup target list --installed 2>/dev/null | grep -qx "$t"; then
    echo "mobile-check: rust target $t is not installed; run scripts/setup.sh --test" >&2
    echo "mobile-check: 0 passed, 1 failed"
    exit 1
  fi
done

android_args=(--workspace --all-targets)
if [ "$INCLUDE_APP" != 1 ]; then
  android_args+=(--exclude quickauth-app)
  echo "mobile-check: quickauth-app is NOT in the Android check yet (QUICKAUTH_MOBILE_CHECK_APP=1 includes it)"
fi
run_check android cargo check --locked --target aarch64-linux-android "${android_args[@]}"

ios_args=()
for p in "${IOS_PACKAGES[@]}"; do ios_args+=(-p "$p"); done
run_check ios cargo check --locked --target aarch64-apple-ios --all-targets "${ios_args[@]}"

echo "mobile-check: type checks took $(( $(date +%s) - started )) s (a type check: nothing linked, nothing run on a device)"
echo "mobile-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
