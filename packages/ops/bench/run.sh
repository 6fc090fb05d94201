#!/usr/bin/env bash
# npm run bench: bundles the benchmark entries with esbuild and runs them with Node (WebGPU via
# Dawn). Arguments pick other entries, e.g. `bash packages/ops/bench/run.sh wasm_matmul_bench`. On the GPU machine use ../shared/device/pack.sh instead (see docs/benchmarks.md).
# Results (JSON) go to $OUT, default node_modules/.cache/mbq-bench/out.
set -euo pipefail
cd "$(dirname "$0")/../../.."
dir=node_modules/.cache/mbq-bench
mkdir -p "$dir"
export OUT="${OUT:-$dir/out}"
entries=("$@")
[ ${#entries[@]} -gt 0 ] || entries=(matmul_bench decode_bench)
for entry in "${entries[@]}"; do
  # tfjs-backend-wasm finds its .wasm files next to its own module: keep tfjs unbundled for wasm entries (and smoke, which may pick wasm).
  extra=()
  [[ "$entry" == wasm_* || "$entry" == smoke ]] && extra=(--external:@tensorflow/*)
  node_modules/.bin/esbuild "packages/ops/bench/$entry.ts" "${extra[@]}" --bundle --platform=node --format=esm --target=node20 \
    --log-level=warning --external:webgpu --outfile="$dir/$entry.mjs" \
    "--banner:js=import { createRequire as __mbqCreateRequire } from 'module'; globalThis.require ??= __mbqCreateRequire(import.meta.url);"
  node "$dir/$entry.mjs"
done
