#!/usr/bin/env bash
# Bundles the op counter into scripts/opcount/dist/{count,make_model}.mjs (workspace packages from source, npm packages external).
set -euo pipefail
cd "$(dirname "$0")/../.."
node_modules/.bin/esbuild scripts/opcount/count.ts scripts/opcount/make_model.ts \
  --bundle --platform=node --format=esm --target=node20 --packages=external --log-level=warning \
  --alias:@tfjs-mbq/converter=./packages/converter/src/index.ts \
  --alias:@tfjs-mbq/runtime=./packages/runtime/src/index.ts \
  --alias:@tfjs-mbq/ops/backends=./packages/ops/src/backends/index.ts \
  --alias:@tfjs-mbq/ops=./packages/ops/src/index.ts \
  --outdir=scripts/opcount/dist --out-extension:.js=.mjs
