import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { MbqRopeAppendKv, MbqRopeAppendKvAttrs, MbqRopeAppendKvInputs } from '../../kernel_names.js';
import { ropeAppendKvDims } from '../fused_common.js';
import { recordProgram, runProgram } from './direct_dispatch.js';
import { fusedOutput, fusedRunOptions } from './fused_options.js';
import { asWebGPU, type FlatProgram, i32u, withShape } from './program.js';
import { K_OUTPUT, ropeAppendKvProgram, type RopeAppendKvPart, V_OUTPUT } from './rope_append_kv_program.js';

/**
 * One dispatch on the direct path (direct_dispatch.ts binds the three outputs): q, and the new
 * k and v caches (the cached rows copied, the new rows appended). Where the direct path does not
 * run (profiling, `dispatch: 'program'`), three one-output programs of the same code: the same bits.
 */
export const ropeAppendKvWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = asWebGPU(MbqRopeAppendKv, backend);
  const { qkv, cos, sin, kPast, vPast } = inputs as MbqRopeAppendKvInputs;
  const a = attrs as unknown as MbqRopeAppendKvAttrs;
  const { B, S, P, C, Q, K, cosRows } = ropeAppendKvDims(qkv.shape, cos.shape, sin.shape, kPast?.shape, vPast?.shape, a);
  const T = P + S;
  const qShape = [B, S, Q], kvShape = [B, T, K];
  const qn = B * S * Q, kvn = B * T * K;
  if (B === 0) return [gpu.makeTensorInfo(qShape, 'float32'), gpu.makeTensorInfo(kvShape, 'float32'), gpu.makeTensorInfo(kvShape, 'float32')];
  const past = P > 0;
  const d = a.headDim;
  const named: Record<string, TensorInfo> = { x: withShape(qkv, [B * S * C]), cs: withShape(cos, [cosRows * d]), sn: withShape(sin, [cosRows * d]) };
  if (past) Object.assign(named, { kp: withShape(kPast!, [B * P * K]), vp: withShape(vPast!, [B * P * K]) });
  const run = (part: RopeAppendKvPart, n: number): { program: FlatProgram; ins: TensorInfo[] } => {
    const program = ropeAppendKvProgram(part, n, past);
    return { program, ins: program.variableNames.map((name) => named[name]!) };
  };
  const uniforms = [i32u(qn), i32u(Q), i32u(K), i32u(C), i32u(S), i32u(P), i32u(T), i32u(d), i32u(cosRows)];
  const opts = fusedRunOptions(gpu, [qn]);
  const q = opts.output ?? gpu.makeTensorInfo([qn], 'float32');
  const k = fusedOutput(gpu, [kvn]) ?? gpu.makeTensorInfo([kvn], 'float32');
  const v = fusedOutput(gpu, [kvn]) ?? gpu.makeTensorInfo([kvn], 'float32');
  const more = [{ name: K_OUTPUT, tensor: k }, { name: V_OUTPUT, tensor: v }];
  const all = run('all', qn + kvn);
  if (!recordProgram(gpu, all.program, all.ins, q, more, uniforms, opts)) {
    for (const [part, n, output] of [['q', qn, q], ['k', kvn, k], ['v', kvn, v]] as const) {
      const one = run(part, n);
      runProgram(gpu, one.program, one.ins, 'float32', uniforms, { ...opts, output });
    }
  }
  return [withShape(q, qShape), withShape(k, kvShape), withShape(v, kvShape)];
};

export const ropeAppendKvWebGPUConfig: KernelConfig = { kernelName: MbqRopeAppendKv, backendName: 'webgpu', kernelFunc: ropeAppendKvWebGPU };
