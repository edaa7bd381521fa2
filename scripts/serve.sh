#!/usr/bin/env bash
# README command 1: set up, build the release site and serve it on http://localhost:${PORT:-8080}/
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-site.sh
exec node tests/serve.mjs dist "${PORT:-8080}"
