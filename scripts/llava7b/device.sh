#!/usr/bin/env bash
# Issue 12 §4 on the GPU machine (`run` tool, carry [".device"], from the repository root):
# a random float16 LLaVA-1.5-7B-shaped checkpoint -> import (float16 storage by default) -> MBQ W3 g128 conversion on
# webgpu with a work directory, stopping itself cleanly before the command's time limit.
# Everything lives in /tmp/llava7b, so a following run on the still-warm machine continues
# (the checkpoint and the import are skipped when present, the conversion resumes).
# Usage: bash scripts/llava7b/device.sh <seconds the whole command may take> <calibration samples> [float16|float32]
set -uo pipefail
LIMIT=${1:-540}
SAMPLES=${2:-2}
DTYPE=${3:-float16}
[ -f .device/setup.sh ] || { echo "no .device here ($(pwd)): pack it in this checkout first"; exit 3; }
WORK=/tmp/llava7b  # not W: .device/setup.sh sets W
mkdir -p "$WORK" "$OUT"
source .device/setup.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt"
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 > "$OUT/gpu_mem_mib.csv" &
SMI=$!
t=$SECONDS
# The checkpoint is needed only until it is imported; it is removed then (disk: 64 GiB holds the
# float32 import, 26.3 GiB, the conversion's spill of folded weights, ~24 GiB, and its scratch files).
if [ ! -f "$WORK/model/model.json" ] && [ ! -f "$WORK/hf/config.json" ]; then
  PYTHONUNBUFFERED=1 python3 scripts/llava7b/make_checkpoint.py "$WORK/hf" 2>&1 | tee "$OUT/make_checkpoint.log"
  echo "checkpoint: $((SECONDS - t)) s" | tee -a "$OUT/stages.txt"; t=$SECONDS
fi
if [ ! -f "$WORK/model/model.json" ]; then
  du -sh "$WORK/hf" | tee -a "$OUT/stages.txt"
  node --expose-gc .device/run.mjs import "$WORK/hf" "$WORK/model" "$DTYPE" "$OUT/import.jsonl" | tail -2
  echo "import: $((SECONDS - t)) s" | tee -a "$OUT/stages.txt"; t=$SECONDS
  [ -f "$WORK/model/model.json" ] && rm -rf "$WORK/hf"
fi
df -h /tmp | tail -1 | sed 's/^/disk: /' | tee -a "$OUT/stages.txt"
du -sh "$WORK/model" | tee -a "$OUT/stages.txt"
rm -rf "$WORK/out"
STOP=$((LIMIT - SECONDS - 45))
echo "convert: stops itself when it cannot end within $STOP s" | tee -a "$OUT/stages.txt"
# TAIL: the stages after the search at 7B (fold check + quantize 130 s on 2026-12-02, then evaluate and emit).
node .device/run.mjs convert "$WORK/model" fixtures/shapes-vqa/calib "$WORK/out" "$WORK/work" "$SAMPLES" 128 "$STOP" "${TAIL:-260}" "$OUT/convert.jsonl" 2>"$OUT/convert.stderr" | tail -3; grep -v '^Warning' "$OUT/convert.stderr" | head -8
echo "convert: $((SECONDS - t)) s" | tee -a "$OUT/stages.txt"
df -h /tmp | tail -1 | sed 's/^/disk: /' | tee -a "$OUT/stages.txt"
kill $SMI
sort -n "$OUT/gpu_mem_mib.csv" | tail -1 | sed 's/^/peak GPU memory used (MiB, nvidia-smi): /' | tee -a "$OUT/stages.txt"
tar czf "$OUT/work.tgz" -C "$WORK" work 2>/dev/null  # at most 8 files come back
ls "$WORK/out" 2>/dev/null | head
