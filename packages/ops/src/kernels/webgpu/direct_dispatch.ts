/// <reference types="@webgpu/types" />
/**
 * runProgram: how every program of ours reaches the GPU. By default a program's user code is
 * recorded straight into the backend's open compute pass, without runWebGPUProgram's per-call
 * work (issue 17): runWebGPUProgram builds a shader key from the input shapes, lays out and
 * uploads a uniform buffer (NaN, Inf, every shape and stride) and creates a bind group of every
 * binding on every call, which dominates a small op's cost (tens of µs per call). Here:
 * - the WGSL is the program's user code behind declarations of our own, in one or two bind
 *   groups: group 0 the inputs the caller names constant (weights), then the output, the other
 *   inputs and `uniforms` (`size` for flat programs, then the program's `uniforms` fields);
 *   one explicit layout per binding count, so a weights' bind group fits every pipeline;
 * - pipelines are compiled once per (device, shaderKey, dtypes, dispatch shape); a uniform
 *   buffer once per (device, values), written at creation;
 * - bind groups are cached by the buffers they bind (tfjs's buffer pool hands the same buffers
 *   out again), so a steady decode loop creates none;
 * - the dispatch joins the backend's compute pass and its batched submit exactly as tfjs's own
 *   recordAndSubmit does (the same pass, dispatch count, submit batch size; inputs and output
 *   marked as owned by the queue so that their disposal waits for the submit), and a dispatch
 *   over the per-dimension limit is reshaped as tfjs reshapes it.
 * A program may write more than one output (`result`, then the extra outputs by their names):
 * only here, as runWebGPUProgram binds one; recordProgram says whether it ran, and the caller
 * runs its one-output programs instead where it did not.
 * It uses backend members that tfjs-webgpu 4.x declares private (commandEncoder,
 * computePassEncoder, commandQueueOwnedIds, dispatchCountInPass, activeTimers): `directBackend`
 * checks they exist. runProgram takes backend.runWebGPUProgram instead (same user code, same
 * results) where they are missing, under profiling (tf.time / tf.profile time each program in a
 * pass of its own) and parallel compilation, for a tensor not in a GPU buffer, a non-scalar
 * uniform, or a dispatch tfjs would refuse, and when asked to (`direct: false`).
 */
import { DataType, env, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { ProgramUniform, WebGPUBackendLike } from './program.js';

/** tfjs-webgpu's WebGPUProgram (its module is not exported; the type is runWebGPUProgram's). */
export type WebGPUProgram = Parameters<WebGPUBackend['runWebGPUProgram']>[0];

type DataId = object;

/** The members of tfjs-webgpu's WebGPUBackend that recording into its pass needs. */
interface BackendInternals {
  device: GPUDevice;
  tensorMap: { get(dataId: DataId): { resource?: unknown; dtype: DataType } | undefined };
  uploadToGPU(dataId: DataId): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  commandQueueOwnedIds: WeakSet<DataId>;
  dispatchCountInPass: number;
  activeTimers?: unknown;
}

export type WgslType = 'f32' | 'i32';

export interface RunOptions {
  /** variableNames whose buffers never change for a layer (weights): bind group 0, made once per buffers. */
  constant?: readonly string[];
  /** false: through backend.runWebGPUProgram (tests, benchmarks). Default true. */
  direct?: boolean;
  /** The output, made by backend.makeTensorInfo (it may carry values: tests poison it); default a fresh one. */
  output?: TensorInfo;
}

/** An output besides `result`: the name the program's user code writes it by, and the tensor (made by backend.makeTensorInfo). */
export interface NamedOutput {
  name: string;
  tensor: TensorInfo;
}

const NO_CONSTANTS: readonly string[] = [];

/**
 * Runs `program` over `inputs` (in variableNames order) with the program-defined `uniforms`, as
 * backend.runWebGPUProgram would, recording it directly where it can (see above).
 */
export function runProgram(backend: WebGPUBackendLike, program: WebGPUProgram, inputs: TensorInfo[], dtype: DataType,
  uniforms: ProgramUniform[], opts: RunOptions = {}): TensorInfo {
  const output = opts.output ?? backend.makeTensorInfo(program.outputShape, dtype);
  if (recordProgram(backend, program, inputs, output, [], uniforms, opts)) return output;
  // runWebGPUProgram rewrites a program's shaderKey (appending the input shapes) and dispatch: give it a copy.
  const copy = Object.assign(Object.create(Object.getPrototypeOf(program) as object) as WebGPUProgram, program);
  return backend.runWebGPUProgram(copy, inputs, dtype, uniforms, output);
}

/**
 * Records `program` writing `output` (as `result`) and `more` (by their names) into the backend's
 * pass, as runProgram's direct path does. Returns false, having recorded nothing, where runProgram
 * falls back to runWebGPUProgram (`opts.direct` false included); `opts.output` is not used.
 */
export function recordProgram(backend: WebGPUBackendLike, program: WebGPUProgram, inputs: TensorInfo[], output: TensorInfo,
  more: readonly NamedOutput[], uniforms: ProgramUniform[], opts: RunOptions = {}): boolean {
  if (opts.direct === false || output.shape.includes(0)) return false;
  const d = directBackend(backend);
  return d !== null && canRecordDirect(d) && recordDirect(d, program, opts.constant ?? NO_CONSTANTS, inputs, output, more, uniforms);
}

const checked = new WeakMap<object, BackendInternals | null>();

/** The backend's internals, or null when this tfjs-webgpu lacks any of them (callers fall back). */
function directBackend(backend: object): BackendInternals | null {
  let d = checked.get(backend);
  if (d === undefined) {
    const b = backend as Partial<Record<keyof BackendInternals, unknown>>;
    const ok = typeof b.uploadToGPU === 'function' && typeof b.ensureCommandEncoderReady === 'function'
      && typeof b.endComputePassEncoder === 'function' && typeof b.submitQueue === 'function'
      && b.tensorMap != null && b.device != null && b.commandQueueOwnedIds instanceof WeakSet
      && typeof b.dispatchCountInPass === 'number' && 'computePassEncoder' in b && 'commandEncoder' in b;
    d = ok ? (backend as BackendInternals) : null;
    checked.set(backend, d);
  }
  return d;
}

/** Whether a dispatch may be recorded directly now (not while tfjs profiles or compiles only). */
function canRecordDirect(d: BackendInternals): boolean {
  return d.activeTimers == null && !env().getBool('WEBGPU_ENGINE_COMPILE_ONLY');
}

const flatLayout = (p: WebGPUProgram): boolean => !(p.dispatchLayout.y?.length) && !(p.dispatchLayout.z?.length);

/** An output's name in the user code and its WGSL element type. */
export interface OutputDecl { name: string; type: WgslType }

/**
 * The WGSL of `program` with our declarations: the `constant` inputs in group 0, the rest in the
 * next group (`result`, then `more` outputs, then the per-call inputs, then the uniforms).
 * `inputTypes` are by variableNames; `flatDispatch` false for a flat program whose dispatch was
 * spread over y and z (its index then comes from the workgroup ids, as in tfjs).
 */
export function directShader(program: WebGPUProgram, constant: readonly string[], inputTypes: readonly WgslType[],
  output: WgslType, flatDispatch = true, more: readonly OutputDecl[] = []): string {
  const type = (name: string): string => {
    const i = program.variableNames.indexOf(name);
    const c = program.variableComponents?.[i] ?? 1;
    return c === 1 ? inputTypes[i]! : `vec${c}<${inputTypes[i]!}>`;
  };
  const perCall = program.variableNames.filter((n) => !constant.includes(n));
  const g = constant.length > 0 ? 1 : 0;
  const fields = `${program.size ? 'size : i32, ' : ''}${program.uniforms ?? ''}`;
  const L = [
    'var<private> localId: vec3<u32>;', 'var<private> localIndex: u32;', 'var<private> globalId: vec3<u32>;',
    'var<private> numWorkgroups: vec3<u32>;', 'var<private> workgroupId: vec3<u32>;',
    // WGSL has no empty structs: a program without uniforms gets an unused field.
    `struct Uniforms { ${fields.trim() === '' ? 'unused_ : i32,' : fields} };`,
  ];
  constant.forEach((name, i) => L.push(`@group(0) @binding(${i}) var<storage, read> ${name}: array<${type(name)}>;`));
  const outs: OutputDecl[] = [{ name: 'result', type: output }, ...more];
  outs.forEach((o, i) => L.push(`@group(${g}) @binding(${i}) var<storage, read_write> ${o.name}: array<${o.type}>;`));
  perCall.forEach((name, i) => L.push(`@group(${g}) @binding(${outs.length + i}) var<storage, read> ${name}: array<${type(name)}>;`));
  L.push(`@group(${g}) @binding(${outs.length + perCall.length}) var<uniform> uniforms: Uniforms;`);
  L.push(program.getUserCode());
  const [wx, wy, wz] = program.workgroupSize;
  const index = flatDispatch ? 'i32(GlobalId.x)'
    : `i32((WorkgroupId.z * NumWorkgroups.x * NumWorkgroups.y + WorkgroupId.y * NumWorkgroups.x + WorkgroupId.x) * ${wx * wy * wz}u + LocalIndex)`;
  L.push(`@compute @workgroup_size(${wx}, ${wy}, ${wz})
fn _start(@builtin(local_invocation_id) LocalId : vec3<u32>, @builtin(global_invocation_id) GlobalId : vec3<u32>,
          @builtin(local_invocation_index) LocalIndex: u32, @builtin(workgroup_id) WorkgroupId : vec3<u32>,
          @builtin(num_workgroups) NumWorkgroups : vec3<u32>) {
  localId = LocalId; localIndex = LocalIndex; globalId = GlobalId; numWorkgroups = NumWorkgroups; workgroupId = WorkgroupId;
  main(${flatLayout(program) ? index : ''});
}`);
  return L.join('\n');
}

/** Past these counts a cache starts over (its old entries are left to the garbage collector). */
const DEFAULT_LIMITS = { uniformBuffers: 4096, bindGroups: 16384 };
let limits = { ...DEFAULT_LIMITS };

/** Tests: smaller cache limits, so that a few calls make the caches start over; {} restores the defaults. */
export function setDirectCacheLimits(l: Partial<typeof DEFAULT_LIMITS>): void {
  limits = { ...DEFAULT_LIMITS, ...l };
}

interface DirectPipeline {
  pipeline: GPUComputePipeline;
  constantLayout: GPUBindGroupLayout | null;
  callLayout: GPUBindGroupLayout;
}

interface DeviceCache {
  pipelines: Map<string, DirectPipeline>;
  layouts: Map<string, GPUBindGroupLayout>;
  uniforms: Map<string, GPUBuffer>;
  /** Bind groups by their buffers, in binding order (a trie of weak maps). */
  groups: WeakMap<object, unknown>;
  groupCount: number;
}

const caches = new WeakMap<GPUDevice, DeviceCache>();

function deviceCache(device: GPUDevice): DeviceCache {
  let c = caches.get(device);
  if (!c) {
    c = { pipelines: new Map(), layouts: new Map(), uniforms: new Map(), groups: new WeakMap(), groupCount: 0 };
    caches.set(device, c);
  }
  return c;
}

/** Bind group layout: `readOnly` read-only storage buffers, after `writable` writable ones and before a uniform if asked. */
function groupLayout(device: GPUDevice, c: DeviceCache, writable: number, readOnly: number, uniform: boolean): GPUBindGroupLayout {
  const key = `${writable}w${readOnly}${uniform ? 'u' : ''}`;
  let l = c.layouts.get(key);
  if (!l) {
    const entries: GPUBindGroupLayoutEntry[] = [];
    const add = (type: GPUBufferBindingType): void => {
      entries.push({ binding: entries.length, visibility: GPUShaderStage.COMPUTE, buffer: { type } });
    };
    for (let i = 0; i < writable; i++) add('storage');
    for (let i = 0; i < readOnly; i++) add('read-only-storage');
    if (uniform) add('uniform');
    l = device.createBindGroupLayout({ entries });
    c.layouts.set(key, l);
  }
  return l;
}

/** The pipeline of `program`, compiled on the first call per device and key. */
function directPipeline(device: GPUDevice, c: DeviceCache, key: string, program: WebGPUProgram, constant: readonly string[],
  inputTypes: readonly WgslType[], output: WgslType, flatDispatch: boolean, more: readonly OutputDecl[]): DirectPipeline {
  let p = c.pipelines.get(key);
  if (!p) {
    const nConst = constant.length;
    const constantLayout = nConst > 0 ? groupLayout(device, c, 0, nConst, false) : null;
    const callLayout = groupLayout(device, c, 1 + more.length, program.variableNames.length - nConst, true);
    const bindGroupLayouts = constantLayout ? [constantLayout, callLayout] : [callLayout];
    const code = directShader(program, constant, inputTypes, output, flatDispatch, more);
    const pipeline = device.createComputePipeline({
      label: program.shaderKey,
      layout: device.createPipelineLayout({ bindGroupLayouts }),
      compute: { module: device.createShaderModule({ code, label: program.shaderKey }), entryPoint: '_start' },
    });
    p = { pipeline, constantLayout, callLayout };
    c.pipelines.set(key, p);
  }
  return p;
}

/** The uniform buffer of `size` (flat programs) and the program's scalar uniforms, or null if one is not a scalar. */
function uniformBuffer(device: GPUDevice, c: DeviceCache, program: WebGPUProgram, uniforms: readonly ProgramUniform[]): GPUBuffer | null {
  const n = uniforms.length + (program.size ? 1 : 0);
  const bytes = new ArrayBuffer(Math.max(16, Math.ceil(n / 4) * 16));
  const i32 = new Int32Array(bytes), u32 = new Uint32Array(bytes), f32 = new Float32Array(bytes);
  let k = 0;
  if (program.size) i32[k++] = program.outputShape.reduce((a, b) => a * b, 1) / (program.outputComponent ?? 1);
  for (const u of uniforms) {
    if (u.data.length !== 1) return null;
    (u.type === 'float32' ? f32 : u.type === 'uint32' ? u32 : i32)[k++] = u.data[0]!;
  }
  const key = i32.join(',');
  let b = c.uniforms.get(key);
  if (!b) {
    if (c.uniforms.size >= limits.uniformBuffers) c.uniforms = new Map();
    b = device.createBuffer({ size: bytes.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, mappedAtCreation: true });
    new Uint8Array(b.getMappedRange()).set(new Uint8Array(bytes));
    b.unmap();
    c.uniforms.set(key, b);
  }
  return b;
}

/** The bind group of `buffers` (binding i = buffers[i]) under `layout`, created once per buffers and layout. */
function bindGroup(device: GPUDevice, c: DeviceCache, layout: GPUBindGroupLayout, buffers: readonly GPUBuffer[]): GPUBindGroup {
  if (c.groupCount >= limits.bindGroups) {
    c.groups = new WeakMap();
    c.groupCount = 0;
  }
  let node = c.groups;
  for (const b of buffers) {
    let next = node.get(b) as WeakMap<object, unknown> | undefined;
    if (!next) {
      next = new WeakMap();
      node.set(b, next);
    }
    node = next;
  }
  let g = node.get(layout) as GPUBindGroup | undefined;
  if (!g) {
    g = device.createBindGroup({ layout, entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) });
    node.set(layout, g);
    c.groupCount++;
  }
  return g;
}

/** The GPU buffer of `t` and its WGSL element type, or null if it lives elsewhere (a texture). */
function gpuBuffer(d: BackendInternals, t: TensorInfo): { buffer: GPUBuffer; type: WgslType } | null {
  d.uploadToGPU(t.dataId);
  const data = d.tensorMap.get(t.dataId);
  const r = data?.resource;
  if (typeof GPUBuffer === 'undefined' || !(r instanceof GPUBuffer)) return null;
  return { buffer: r, type: data!.dtype === 'float32' ? 'f32' : 'i32' };
}

/** tfjs's reshape of a flat dispatch over the per-dimension limit; null where tfjs would refuse it. */
function fitDispatch(device: GPUDevice, program: WebGPUProgram): [number, number, number] | null {
  const max = device.limits.maxComputeWorkgroupsPerDimension;
  const dispatch = program.dispatch;
  if (dispatch.every((v) => v <= max)) return dispatch;
  if (dispatch[0] <= max || program.dispatchLayout.y !== undefined || program.dispatchLayout.z !== undefined) return null;
  const sq = Math.ceil(Math.sqrt(dispatch[0]));
  if (sq <= max) return [sq, sq, 1];
  const cb = Math.ceil(Math.cbrt(dispatch[0]));
  return cb <= max ? [cb, cb, cb] : null;
}

/**
 * Records `program` over `inputs` (in variableNames order) into `output` and `more` (made with
 * backend.makeTensorInfo; values they carry are uploaded here first). Returns false, having
 * recorded nothing, where runProgram's header says it falls back.
 */
function recordDirect(d: BackendInternals, program: WebGPUProgram, constant: readonly string[],
  inputs: readonly TensorInfo[], output: TensorInfo, more: readonly NamedOutput[], uniforms: readonly ProgramUniform[]): boolean {
  const { device } = d;
  if (program.atomic || program.pixelsOpType != null) return false;
  const dispatch = fitDispatch(device, program);
  if (!dispatch) return false;
  const out = gpuBuffer(d, output);
  if (!out) return false;
  const c = deviceCache(device);
  const uniformBuf = uniformBuffer(device, c, program, uniforms);
  if (!uniformBuf) return false;
  const constantBufs: GPUBuffer[] = [];
  const callBufs: GPUBuffer[] = [out.buffer];
  const moreDecls: OutputDecl[] = [];
  for (const o of more) {
    const b = gpuBuffer(d, o.tensor);
    if (!b) return false;
    callBufs.push(b.buffer);
    moreDecls.push({ name: o.name, type: b.type });
  }
  const types: WgslType[] = [];
  let key = `${program.shaderKey}|${constant.join(',')}|${moreDecls.map((o) => `${o.name}:${o.type}`).join(',')}|`;
  for (let i = 0; i < inputs.length; i++) {
    const b = gpuBuffer(d, inputs[i]!);
    if (!b) return false;
    types.push(b.type);
    key += b.type;
    (constant.includes(program.variableNames[i]!) ? constantBufs : callBufs).push(b.buffer);
  }
  callBufs.push(uniformBuf);
  const flatDispatch = dispatch[1] === 1 && dispatch[2] === 1;
  key += `>${out.type}${flatDispatch ? '' : '|3d'}`;
  const p = directPipeline(device, c, key, program, constant, types, out.type, flatDispatch, moreDecls);
  for (const t of inputs) d.commandQueueOwnedIds.add(t.dataId);
  d.commandQueueOwnedIds.add(output.dataId);
  for (const o of more) d.commandQueueOwnedIds.add(o.tensor.dataId);
  d.ensureCommandEncoderReady();
  if (!d.computePassEncoder) d.computePassEncoder = d.commandEncoder!.beginComputePass({});
  const pass = d.computePassEncoder;
  pass.setPipeline(p.pipeline);
  let g = 0;
  if (p.constantLayout) pass.setBindGroup(g++, bindGroup(device, c, p.constantLayout, constantBufs));
  pass.setBindGroup(g, bindGroup(device, c, p.callLayout, callBufs));
  pass.dispatchWorkgroups(dispatch[0], dispatch[1], dispatch[2]);
  d.dispatchCountInPass++;
  if ((env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number) <= d.dispatchCountInPass) {
    d.endComputePassEncoder();
    d.submitQueue();
  }
  return true;
}
