#!/usr/bin/env bash
# Bundles packages/runtime/bench/decode_7b.ts (esbuild, tfjs external so wasm finds its .wasm files)
# and runs it with the given arguments, e.g.
#   bash packages/runtime/bench/run_7b.sh --preset tiny --backend cpu --steps 16 --runs 2
# Needs `npm run build` (the workspace packages resolve to their dist/). Results go to $OUT
# (default node_modules/.cache/mbq-bench/out). On the GPU machine: decode_7b_device.sh.
set -euo pipefail
cd "$(dirname "$0")/../../.."
dir=node_modules/.cache/mbq-bench
mkdir -p "$dir"
export OUT="${OUT:-$dir/out}"
node_modules/.bin/esbuild packages/runtime/bench/decode_7b.ts --bundle --platform=node --format=esm --target=node20 \
  --log-level=warning --external:webgpu --external:@tensorflow/* --outfile="$dir/decode_7b.mjs" \
  "--banner:js=import { createRequire as __mbqCreateRequire } from 'module'; globalThis.require ??= __mbqCreateRequire(import.meta.url);"
exec node "$dir/decode_7b.mjs" "$@"
