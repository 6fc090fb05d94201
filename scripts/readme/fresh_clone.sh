#!/usr/bin/env bash
# Every README command as a new user runs it (issue 14 §2): a fresh clone of this commit into a
# temporary directory, `npm ci`, `npm run build`, then each command of the README's sh blocks
# (scripts/readme/run_commands.mjs). CI runs it after `npm test`; a few minutes on 2 cores.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
commit="$(git -C "$repo" rev-parse HEAD)"
work="$(mktemp -d "${TMPDIR:-/tmp}/tfjs-mbq-readme-XXXXXX")"
trap 'rm -rf "$work"' EXIT
git clone --quiet --no-checkout "$repo" "$work/clone"
cd "$work/clone"
git checkout --quiet "$commit"
echo "README commands on a fresh clone of $commit in $work/clone"
start=$SECONDS
npm ci --no-audit --no-fund --prefer-offline
npm run build
echo "npm ci + build: $((SECONDS - start)) s"
# The fresh clone's own copy: what is checked is the committed README and scripts.
timeout 1500 node scripts/readme/run_commands.mjs
echo "README commands: $((SECONDS - start)) s in all"
