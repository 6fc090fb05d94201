#!/usr/bin/env bash
# Bundles trace.ts, step_cpu.ts and scaled_checkpoint.ts (common.ts goes into the first two) into scripts/wasm_trace/dist/*.mjs (workspace packages from their
# built dist/, npm packages external: tfjs-backend-wasm finds its .wasm files next to its module).
set -euo pipefail
cd "$(dirname "$0")/../.."
node_modules/.bin/esbuild scripts/wasm_trace/trace.ts scripts/wasm_trace/scaled_checkpoint.ts scripts/wasm_trace/step_cpu.ts --bundle --platform=node --format=esm --target=node20 \
  --packages=external --log-level=warning --outdir=scripts/wasm_trace/dist --out-extension:.js=.mjs
