/**
 * MbqQuantizedMatMul as tfjs-webgpu programs, recorded directly (direct_dispatch.ts) or run with
 * backend.runWebGPUProgram like the backend's own kernels: tfjs declares the bindings and uniforms, compiles a program once per
 * shaderKey and records its dispatch into the compute pass it shares with every other op.
 * The shaderKey names everything the WGSL bakes in (variant, bits, K, N, group, tiling, act8),
 * so getUserCode, tens of KB of unrolled WGSL, runs on the first call of a layer shape only.
 */
import { i32u, type ProgramUniform } from './program.js';
import { needsActQuant, type QmmPlan } from './quantized_matmul_plan.js';
import { act8Words, actQuantShader, gemmShader, genericShader, gemvShader } from './quantized_matmul_wgsl.js';
import { smallMShader } from './quantized_matmul_smallm_wgsl.js';
import { onePassShader } from './quantized_matmul_onepass_wgsl.js';

import type { WebGPUProgram } from './direct_dispatch.js';

export type { WebGPUProgram };

const MAX_DIM = 65535;

/** Every program here reads the token count M from this uniform. */
const M_UNIFORM = 'm : i32,';

export function mUniform(M: number): ProgramUniform[] {
  return [i32u(M)];
}

function checkDispatch(dispatch: [number, number, number], M: number, N: number): [number, number, number] {
  if (dispatch.some((d) => d > MAX_DIM)) {
    throw new Error(`quantizedMatMul (webgpu): dispatch [${dispatch}] exceeds ${MAX_DIM} workgroups per dimension (M=${M}, N=${N})`);
  }
  return dispatch;
}

/**
 * y [M, N] from x [M, K] (after the act8 pre-pass: its output) and the packed weights. Inputs:
 * x, packed, scales, zeros (after the pre-pass: and its output again as `xs`, its scale tail;
 * the one-pass W4A8 variant reads float x and quantizes it itself).
 */
export class QuantizedMatMulProgram implements WebGPUProgram {
  variableNames: string[];
  variableComponents: number[];
  outputShape: number[];
  shaderKey: string;
  // Two-dimensional layout: tfjs then calls our `main()` without a flat index.
  dispatchLayout = { x: [1], y: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms = M_UNIFORM;
  private readonly plan: QmmPlan;

  constructor(plan: QmmPlan) {
    const { variant, act8, nativeDot4, M, gemv, smallm, onepass } = plan;
    const { bits, K, N, groupSize } = plan.shape;
    this.plan = plan;
    this.outputShape = [M, N];
    this.variableNames = needsActQuant(plan) ? ['x', 'packed', 'scales', 'zeros', 'xs'] : ['x', 'packed', 'scales', 'zeros'];
    const t = gemv ?? smallm;
    const tiling = t ? `_mt${t.MT}_r${t.R}_ts${t.TS}_wg${t.WG}` : onepass ? `_mt${onepass.MT}_wg${onepass.WG}` : '';
    this.shaderKey = `mbq_qmm_${variant}_b${bits}_k${K}_n${N}_g${groupSize}${act8 ? `_a8${nativeDot4 ? 'dot4' : ''}` : ''}${tiling}`;
    let dispatch: [number, number, number];
    if (variant === 'gemv') {
      const c = gemv!;
      this.variableComponents = [4, 4, 1, 1, 1];
      this.workgroupSize = [c.WG, 1, 1];
      dispatch = [Math.ceil(N / ((c.WG / c.TS) * c.R)), Math.ceil(M / c.MT), 1];
    } else if (variant === 'smallm') {
      const c = smallm!;
      this.variableComponents = [4, 1, 1, 1];
      this.workgroupSize = [c.WG, 1, 1];
      dispatch = [Math.ceil(N / ((c.WG / c.TS) * c.R)), Math.ceil(M / c.MT), 1];
    } else if (variant === 'onepass') {
      const c = onepass!;
      this.variableComponents = [1, 1, 1, 1];
      this.workgroupSize = [c.WG, 1, 1];
      dispatch = [Math.ceil(N / c.WG), Math.ceil(M / c.MT), 1];
    } else if (variant === 'gemm') {
      this.variableComponents = [4, 1, 1, 1];
      this.workgroupSize = [256, 1, 1];
      dispatch = [Math.ceil(N / 64), Math.ceil(M / 64), 1];
    } else {
      this.variableComponents = [1, 1, 1, 1, 1];
      this.workgroupSize = [64, 1, 1];
      const nx = Math.min(N, MAX_DIM);
      dispatch = [nx, Math.ceil(N / nx), M];
    }
    this.variableComponents.length = this.variableNames.length;
    this.dispatch = checkDispatch(dispatch, M, N);
  }

  getUserCode(): string {
    const p = this.plan;
    if (p.variant === 'gemv') return gemvShader(p.shape, p.gemv!, p.act8, p.nativeDot4);
    if (p.variant === 'smallm') return smallMShader(p.shape, p.smallm!);
    if (p.variant === 'gemm') return gemmShader(p.shape);
    if (p.variant === 'onepass') return onePassShader(p.shape, p.onepass!);
    return genericShader(p.shape, p.act8, p.nativeDot4);
  }
}

/** W4A8 pre-pass: x [M, K] float32 -> int32 [M * act8Words(K) + M] (codes, then scales). */
export class ActQuantProgram implements WebGPUProgram {
  variableNames = ['x'];
  outputShape: number[];
  shaderKey: string;
  // Flat layout: tfjs calls `main(index)`; the shader ignores the index (one workgroup per token).
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [256, 1, 1];
  uniforms = M_UNIFORM;
  private readonly K: number;

  constructor(plan: QmmPlan) {
    const { M } = plan;
    this.K = plan.shape.K;
    this.outputShape = [M * act8Words(this.K) + M];
    this.shaderKey = `mbq_qmm_act8_k${this.K}`;
    this.dispatch = checkDispatch([M, 1, 1], M, plan.shape.N);
  }

  getUserCode(): string {
    return actQuantShader(this.K);
  }
}
