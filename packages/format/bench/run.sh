#!/usr/bin/env bash
# Builds the workspace (tsc -b), bundles bench/hostile_text.ts against the built packages and runs it:
# worst tokenizer and chat-template times on hostile text (docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/../../.."
dir=node_modules/.cache/mbq-format-bench
mkdir -p "$dir"
npx tsc -b
node_modules/.bin/esbuild packages/format/bench/hostile_text.ts --bundle --platform=node --format=esm --target=node20 --packages=external --log-level=warning --outfile="$dir/hostile_text.mjs"
exec node "$dir/hostile_text.mjs" "$@"
