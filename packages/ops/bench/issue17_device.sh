#!/usr/bin/env bash
# Issue 17 targets 1 and 3 on the GPU machine in one `run` command (carry [".device", "out/tiny-vlm-w3"]):
#   here:  bash scripts/device/pack.sh packages/ops/bench/small_m_bench.ts packages/ops/bench/op_path_bench.ts packages/cli/src/bin.ts
#          (out/tiny-vlm-w3: `tfjs-mbq convert fixtures/tiny-vlm --calib fixtures/shapes-vqa/calib --out out/tiny-vlm-w3`;
#           out/tiny-vlm-float, the same fused graph in float32, the fair baseline:
#           `tfjs-mbq convert fixtures/tiny-vlm --calib fixtures/shapes-vqa/calib --out out/tiny-vlm-float --method rtn --emit float`;
#           carry it too)
#   there: bash packages/ops/bench/issue17_device.sh
# Target 6 alone (M=8 vs M=1 of the kernel; needs only small_m_bench.ts packed, no carry but .device):
#          ISSUE17_ONLY=small_m bash packages/ops/bench/issue17_device.sh
# Writes to $OUT: gpu.txt, small_m.log + small_m_bench.json (W3 kernel GPU time at M = 1, 2, 4, 8:
# gemv at M = 1, smallm at M = 2..8, the gemv's M = 8 before smallm, a smallm tiling sweep), op_path.log + op_path_bench.json (W3 M=1 per call: legacy, runWebGPUProgram
# and direct dispatch, with the per-call trace), fixture_bench.json (W3 vs float, one interleaved run).
set -euo pipefail
source .device/setup.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$OUT/gpu.txt" 2>&1 || true
if [ -f .device/small_m_bench.mjs ]; then
  node .device/small_m_bench.mjs > "$OUT/small_m.log" 2>&1
  grep -v "^Warning" "$OUT/small_m.log" | tail -8
fi
[ "${ISSUE17_ONLY:-}" = small_m ] && exit 0
BENCH_SHAPES=${BENCH_SHAPES:-4096x4096,4096x11008,11008x4096,3584x18944} node .device/op_path_bench.mjs > "$OUT/op_path.log" 2>&1
node .device/bin.mjs bench out/tiny-vlm-w3 --backend webgpu --runs 7 --json > "$OUT/fixture_bench.json" 2> "$OUT/fixture_bench.err"
if [ -f out/tiny-vlm-float/model.json ]; then  # same fused ops on both sides
  node .device/bin.mjs bench out/tiny-vlm-w3 --backend webgpu --runs 7 --baseline out/tiny-vlm-float --json > "$OUT/fixture_bench_fused_float.json" 2>> "$OUT/fixture_bench.err"
fi
grep -v '^Warning' "$OUT/op_path.log" | tail -22
node -e "const r=JSON.parse(require('fs').readFileSync(process.argv[1]));for(const m of r.models)console.log(m.role,m.dir,'decode ms/token',m.decodeMsPerToken.median.toFixed(2),'prefill ms',m.prefillMs.median.toFixed(1));console.log('ratio',JSON.stringify(r.ratio))" "$OUT/fixture_bench.json"
