#!/usr/bin/env bash
# README command 2: set up and run every test (core and CLI natively, then the built site in
# headless Chromium on both backends).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh browser
echo "== native tests (core, CLI)"
cargo test --workspace --exclude dough --exclude dough-worker
echo "== release site"
scripts/build-site.sh
echo "== browser tests (headless Chromium: WebGPU via SwiftShader, and the CPU fallback)"
node --test --test-reporter=spec tests/
