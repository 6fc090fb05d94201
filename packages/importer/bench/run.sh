#!/usr/bin/env bash
# Builds the workspace (tsc -b), bundles bench/peak_rss.ts against the built packages and runs it
# under node --expose-gc: peak RSS of an import (docs/memory.md).
set -euo pipefail
cd "$(dirname "$0")/../../.."
dir=node_modules/.cache/mbq-importer-bench
mkdir -p "$dir"
npx tsc -b
node_modules/.bin/esbuild packages/importer/bench/peak_rss.ts --bundle --platform=node --format=esm --target=node20 --packages=external --log-level=warning --outfile="$dir/peak_rss.mjs"
exec node ${NODE_GC:---expose-gc} "$dir/peak_rss.mjs" "$@"
