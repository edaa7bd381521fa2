#!/usr/bin/env bash
# Installs what building and testing Dough needs, only where missing. Nothing comes from GitHub:
# Rust tools from crates.io, wasm-opt and the browser driver from npm, Chromium from Debian.
#   scripts/tools.sh          build tools (wasm target, Trunk, wasm-bindgen-cli, npm packages)
#   scripts/tools.sh browser  the same, plus Debian's chromium and chromium-driver
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[tools] $*"; }

rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown || {
  say "adding the wasm32-unknown-unknown target"; rustup target add wasm32-unknown-unknown; }

# Both tools are built from crates.io. Their own release profiles ask for fat LTO in one codegen
# unit, which is most of their build time on a small machine; they only drive the build, so a
# quick optimised build is plenty (the site they produce is byte-for-byte the same).
quick() {
  CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_INCREMENTAL=false "$@"
}

if ! trunk --version 2>/dev/null | grep -q "0.21.14"; then
  say "installing trunk 0.21.14 (a few minutes)"
  # Without its update check (Trunk runs offline here).
  quick cargo install trunk --version 0.21.14 --locked --no-default-features --features rustls
fi

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
wb=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q " $wb\$"; then
  say "installing wasm-bindgen-cli $wb (a few minutes)"
  # Without TLS: the CLI itself downloads nothing (TLS is for its test runner's driver download).
  quick cargo install wasm-bindgen-cli --version "$wb" --no-default-features
fi

if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ] || [ ! -f node_modules/axe-core/axe.min.js ]; then
  say "installing npm packages (binaryen, playwright-core, axe-core)"
  npm ci --no-audit --no-fund
fi

if [ "${1:-}" = browser ] && ! command -v chromium >/dev/null; then
  say "installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi
exit 0
