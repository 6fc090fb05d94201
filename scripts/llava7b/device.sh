#!/usr/bin/env bash
# Issue 12 §4 on the GPU machine (`run` tool, carry [".device"], from the repository root):
# a random float16 LLaVA-1.5-7B-shaped checkpoint -> import (float32) -> MBQ W3 g128 conversion on
# webgpu with a work directory, stopping itself cleanly before the command's time limit.
# Everything lives in /tmp/llava7b, so a following run on the still-warm machine continues
# (the checkpoint and the import are skipped when present, the conversion resumes).
# Usage: bash scripts/llava7b/device.sh <seconds the whole command may take> <calibration samples>
set -uo pipefail
LIMIT=${1:-540}
SAMPLES=${2:-2}
W=/tmp/llava7b
mkdir -p "$W" "$OUT"
source .device/setup.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt"
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 > "$OUT/gpu_mem_mib.csv" &
SMI=$!
t=$SECONDS
if [ ! -f "$W/hf/config.json" ]; then
  PYTHONUNBUFFERED=1 python3 scripts/llava7b/make_checkpoint.py "$W/hf" 2>&1 | tee "$OUT/make_checkpoint.log"
  echo "checkpoint: $((SECONDS - t)) s" | tee -a "$OUT/stages.txt"; t=$SECONDS
fi
du -sh "$W/hf" | tee -a "$OUT/stages.txt"
if [ ! -f "$W/model/model.json" ]; then
  node .device/run.mjs import "$W/hf" "$W/model" "$OUT/import.jsonl" | tail -2
  echo "import: $((SECONDS - t)) s" | tee -a "$OUT/stages.txt"; t=$SECONDS
fi
du -sh "$W/model" | tee -a "$OUT/stages.txt"
rm -rf "$W/out"
STOP=$((LIMIT - SECONDS - 45))
echo "convert: stops itself after $STOP s" | tee -a "$OUT/stages.txt"
node .device/run.mjs convert "$W/model" fixtures/shapes-vqa/calib "$W/out" "$W/work" "$SAMPLES" 128 "$STOP" "$OUT/convert.jsonl" 2>&1 | grep -v '^Warning' | tail -3
echo "convert: $((SECONDS - t)) s" | tee -a "$OUT/stages.txt"
kill $SMI
sort -n "$OUT/gpu_mem_mib.csv" | tail -1 | sed 's/^/peak GPU memory used (MiB, nvidia-smi): /' | tee -a "$OUT/stages.txt"
tar czf "$OUT/work.tgz" -C "$W" work 2>/dev/null  # at most 8 files come back
ls "$W/out" 2>/dev/null | head
