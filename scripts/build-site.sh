#!/usr/bin/env bash
# Builds the release site into dist/: Trunk (offline), then binaryen's wasm-opt -Oz from npm.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh
trunk build --release --offline
wasm=$(ls dist/*_bg.wasm)
raw_before=$(stat -c %s "$wasm")
node_modules/.bin/wasm-opt -Oz \
  --enable-simd --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$wasm" -o "$wasm.opt"
mv "$wasm.opt" "$wasm"
raw=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
echo "[build] wasm: $raw_before bytes from Trunk, $raw bytes after wasm-opt, $gz bytes gzipped"
echo "[build] site in dist/ ($(du -sh dist | cut -f1))"
