#!/usr/bin/env bash
# Bundles bench/peak_rss.ts (workspace packages from source) and runs it: peak RSS of an import.
set -euo pipefail
cd "$(dirname "$0")/../../.."
dir=node_modules/.cache/mbq-importer-bench
mkdir -p "$dir"
node_modules/.bin/esbuild packages/importer/bench/peak_rss.ts --bundle --platform=node --format=esm --target=node20 --packages=external --log-level=warning \
  --alias:@tfjs-mbq/importer=./packages/importer/src/index.ts --alias:@tfjs-mbq/converter=./packages/converter/src/index.ts \
  --alias:@tfjs-mbq/format=./packages/format/src/index.ts --alias:@tfjs-mbq/ops/backends=./packages/ops/src/backends/index.ts \
  --alias:@tfjs-mbq/ops=./packages/ops/src/index.ts --outfile="$dir/peak_rss.mjs"
exec node ${NODE_GC:---expose-gc} "$dir/peak_rss.mjs" "$@"
