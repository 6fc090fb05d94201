#!/usr/bin/env bash
# Issue 17 target 2 on the GPU machine in one `run` command (carry [".device"], repository root):
#   here (the main checkout, after `npm run build`): bash scripts/device/pack.sh packages/runtime/bench/decode_7b.ts
#   there: bash packages/runtime/bench/decode_7b_device.sh [seconds the bench may take, default 560]
# (DECODE7B_PRESET=tiny DECODE7B_BACKEND=cpu: the same command as a dry run anywhere with .device.)
# Builds the LLaMA-7B-shaped W3 and float32 models in /tmp/decode7b (~3 + ~27 GB), loads and times
# them (decode_7b.ts). Writes to $OUT (6 files): gpu.txt, gpu_mem_mib.csv (nvidia-smi every second),
# decode_7b.log, decode_7b.partial.json (W3 alone, written once it ran), decode_7b.json and
# decode_7b.md (the table), the last two only if the bench finished within the limit.
set -uo pipefail
LIMIT=${1:-560}
[ -f .device/decode_7b.mjs ] || { echo "decode_7b_device.sh: no .device/decode_7b.mjs in $(pwd): pack it in this checkout first"; exit 3; }
source .device/setup.sh
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt" 2>&1
df -h /tmp | tail -1 >> "$OUT/gpu.txt"
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 1000 > "$OUT/gpu_mem_mib.csv" 2>/dev/null &
SMI=$!
timeout -s TERM "$LIMIT" node --expose-gc .device/decode_7b.mjs --preset "${DECODE7B_PRESET:-7b}" --backend "${DECODE7B_BACKEND:-webgpu}" --prompt 512 --steps 64 --runs 3 \
  --profile-steps 8 --dir /tmp/decode7b --out "$OUT" > "$OUT/decode_7b.log" 2>&1
rc=$?
kill $SMI 2>/dev/null
[ $rc -eq 124 ] && echo "decode_7b_device.sh: stopped at the ${LIMIT} s limit (see decode_7b.log for the stage reached)" | tee -a "$OUT/decode_7b.log"
sort -n "$OUT/gpu_mem_mib.csv" | tail -1 | sed 's/^/peak GPU memory used (MiB, nvidia-smi): /' | tee -a "$OUT/gpu.txt"
grep -v '^Warning' "$OUT/decode_7b.log" | tail -24
rm -rf /tmp/decode7b
exit $rc
