#!/usr/bin/env bash
# Builds the release site into dist/: Trunk (offline; the page and its compute worker), then
# binaryen's wasm-opt -Oz from npm on both wasm files, then versions the worker's files (Trunk
# does not hash their names) so that a cached old worker never meets a newer page.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh
trunk build --release --offline
for wasm in dist/*_bg.wasm; do
  raw_before=$(stat -c %s "$wasm")
  node_modules/.bin/wasm-opt -Oz \
    --enable-simd --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$wasm" -o "$wasm.opt"
  mv "$wasm.opt" "$wasm"
  raw=$(stat -c %s "$wasm")
  gz=$(gzip -9 -c "$wasm" | wc -c)
  echo "[build] $(basename "$wasm"): $raw_before bytes from Trunk, $raw bytes after wasm-opt, $gz bytes gzipped"
done
version=$(cat dist/dough-worker.js dist/dough-worker_bg.wasm dist/dough-worker-cpu.js dist/dough-worker-cpu_bg.wasm dist/worker.js | sha256sum | cut -c1-16)
sed -i "s|<meta name=\"dough-worker-version\" content=\"[^\"]*\">|<meta name=\"dough-worker-version\" content=\"$version\">|" dist/index.html
grep -q "content=\"$version\"" dist/index.html || { echo "[build] could not version the worker in dist/index.html" >&2; exit 1; }
echo "[build] worker version $version"
echo "[build] site in dist/ ($(du -sh dist | cut -f1))"
