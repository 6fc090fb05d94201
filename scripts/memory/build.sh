#!/usr/bin/env bash
# Bundles the memory scripts into scripts/memory/dist/*.mjs (workspace packages from source, npm packages external).
set -euo pipefail
cd "$(dirname "$0")/../.."
node_modules/.bin/esbuild scripts/memory/measure.ts scripts/memory/convert_one.ts \
  --bundle --platform=node --format=esm --target=node20 --packages=external --log-level=warning \
  --alias:@tfjs-mbq/converter=./packages/converter/src/index.ts \
  --alias:@tfjs-mbq/ops/backends=./packages/ops/src/backends/index.ts \
  --alias:@tfjs-mbq/ops=./packages/ops/src/index.ts \
  --outdir=scripts/memory/dist --out-extension:.js=.mjs
