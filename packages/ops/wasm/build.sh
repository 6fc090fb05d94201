#!/usr/bin/env bash
# Regenerates src/kernels/wasm/simd/quantized_matmul_module.ts from quantized_matmul_wat.ts (wabt).
set -euo pipefail
cd "$(dirname "$0")/../../.."
dir=node_modules/.cache/mbq-wasm
mkdir -p "$dir"
node_modules/.bin/esbuild packages/ops/wasm/build.ts --bundle --platform=node --format=esm --target=node20 \
  --log-level=warning --outfile="$dir/build.mjs" --external:wabt
node "$dir/build.mjs"
