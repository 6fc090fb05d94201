#!/usr/bin/env bash
# Packs entries for the GPU machine: the shared pack.sh (Node, Dawn, loaders, bundled entries into
# .device/), plus @tfjs-mbq/format's Node entry, which the runtime loads by a computed specifier
# (so browser bundlers leave it out) and esbuild therefore cannot bundle either.
# Run from the main checkout (pack.sh needs .git to be a directory, not a worktree's file):
#   bash scripts/device/pack.sh packages/cli/src/bin.ts [more entries]
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
bash "${MBQ_SHARED_PACK:-$root/../shared/device/pack.sh}" "$@"
dest=.device/node_modules/@tfjs-mbq/format
[ -f packages/format/dist/node/index.js ] || { echo "pack: build first (npm run build)" >&2; exit 2; }
rm -rf "$dest" && mkdir -p "$dest"
cp -r packages/format/package.json packages/format/dist "$dest/"
find "$dest" -name '*.map' -delete
echo "packed @tfjs-mbq/format -> $dest"
