#!/usr/bin/env bash
# Bundles the results runner into scripts/results/dist/results.mjs (workspace packages from source, npm packages external).
set -euo pipefail
cd "$(dirname "$0")/../.."
node_modules/.bin/esbuild scripts/results/results.ts \
  --bundle --platform=node --format=esm --target=node20 --packages=external --log-level=warning --splitting \
  --alias:@tensorflow/tfjs-core/dist/register_all_gradients.js=./node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js \
  --alias:@tfjs-mbq/converter=./packages/converter/src/index.ts \
  --alias:@tfjs-mbq/eval=./packages/eval/src/index.ts \
  --alias:@tfjs-mbq/runtime=./packages/runtime/src/index.ts \
  --alias:@tfjs-mbq/ops/backends=./packages/ops/src/backends/index.ts \
  --alias:@tfjs-mbq/ops=./packages/ops/src/index.ts \
  --outdir=scripts/results/dist --out-extension:.js=.mjs
