/** Writes src/kernels/wasm/simd/quantized_matmul_module.ts (run by build.sh). */
import { writeFileSync } from 'node:fs';
import { assembleQuantizedMatMulWasm, renderModuleSource } from './assemble.js';

// Run from the repository root (build.sh does).
const out = 'packages/ops/src/kernels/wasm/simd/quantized_matmul_module.ts';
const bytes = await assembleQuantizedMatMulWasm();
writeFileSync(out, renderModuleSource(bytes));
console.log(`wrote ${out} (${bytes.length} bytes of wasm)`);
