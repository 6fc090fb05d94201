/** The checked-in wasm module is exactly what the WebAssembly text assembles to (wabt), and only uses what it should. */
import { assembleQuantizedMatMulWasm, renderModuleSource } from '../wasm/assemble.js';
import { gemmA8ExportName, gemmExportName, LANE_M_TILES, laneKernelName, prepLanesName, QMM_BITS, QMM_M_TILES, qmmExportName } from '../wasm/quantized_matmul_wat.js';
import { QUANTIZED_MATMUL_WASM_BASE64 } from '../src/kernels/wasm/simd/quantized_matmul_module.js';
import { readFileSync } from 'node:fs';

describe('wasm SIMD quantizedMatMul module', () => {
  it('is up to date with packages/ops/wasm/quantized_matmul_wat.ts (else run bash packages/ops/wasm/build.sh)', async () => {
    const bytes = await assembleQuantizedMatMulWasm();
    expect(Buffer.from(QUANTIZED_MATMUL_WASM_BASE64, 'base64').equals(Buffer.from(bytes))).toBe(true);
    const source = readFileSync(new URL('../src/kernels/wasm/simd/quantized_matmul_module.ts', import.meta.url), 'utf8');
    expect(source).toBe(renderModuleSource(bytes));
  });

  it('imports only env.memory (no memory, data or stack of its own) and exports every kernel', () => {
    const mod = new WebAssembly.Module(Buffer.from(QUANTIZED_MATMUL_WASM_BASE64, 'base64'));
    expect(WebAssembly.Module.imports(mod)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    const exports = WebAssembly.Module.exports(mod).map((e) => e.name).sort();
    const expected = ['prep_f32', 'prep_i8', prepLanesName(4, 'a8'), ...QMM_BITS.map((b) => prepLanesName(b, 'f32')), ...QMM_BITS.map(gemmExportName), gemmA8ExportName(4)];
    for (const tile of QMM_M_TILES) {
      for (const bits of QMM_BITS) expected.push(qmmExportName(bits, tile, 'f32'));
      expected.push(qmmExportName(4, tile, 'a8'));
    }
    for (const tile of LANE_M_TILES) {
      for (const bits of QMM_BITS) expected.push(laneKernelName(bits, tile, 'f32'));
      expected.push(laneKernelName(4, tile, 'a8'));
    }
    expect(exports).toEqual(expected.sort());
  });
});
