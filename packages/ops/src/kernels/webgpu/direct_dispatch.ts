/// <reference types="@webgpu/types" />
/**
 * Direct dispatch of a tfjs-webgpu program's user code into the backend's open compute pass,
 * without runWebGPUProgram's per-call work (issue 17 target 1). runWebGPUProgram builds a shader
 * key from the input shapes, lays out and uploads a uniform buffer (NaN, Inf, every shape and
 * stride) and creates a bind group of every binding on every call; for a kernel whose weights
 * never change and whose only run-time value is M, all of that is constant. Here:
 * - the WGSL is the program's user code behind declarations of our own, in two bind groups:
 *   group 0 the constant inputs (weights), group 1 the output, the per-call inputs and `uniforms`;
 *   one explicit pipeline layout per binding count, so a weights' bind group fits every pipeline;
 * - pipelines are compiled once per (device, shaderKey); the `uniforms` buffer ({ m }) once per
 *   (device, M), written at creation;
 * - bind groups are cached by the buffers they bind (weights: per layer; group 1: per output,
 *   inputs and uniform buffer; tfjs's buffer pool hands the same buffers out again), so a steady
 *   decode loop creates none;
 * - the dispatch joins the backend's compute pass and its batched submit exactly as tfjs's own
 *   recordAndSubmit does (the same pass, dispatch count, submit batch size; inputs and output
 *   marked as owned by the queue so that their disposal waits for the submit).
 * It uses backend members that tfjs-webgpu 4.x declares private (commandEncoder,
 * computePassEncoder, commandQueueOwnedIds, dispatchCountInPass, activeTimers): `directBackend`
 * checks they exist and returns null otherwise, and callers then use runWebGPUProgram. Profiling
 * (tf.time / tf.profile, which time each program in a pass of its own) and parallel compilation
 * also take runWebGPUProgram.
 */
import { env, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

/** tfjs-webgpu's WebGPUProgram (its module is not exported; the type is runWebGPUProgram's). */
export type WebGPUProgram = Parameters<WebGPUBackend['runWebGPUProgram']>[0];

type DataId = object;

/** The members of tfjs-webgpu's WebGPUBackend that recording into its pass needs. */
interface BackendInternals {
  device: GPUDevice;
  tensorMap: { get(dataId: DataId): { resource?: unknown } | undefined };
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

/** How a program's variables bind: which are constant across calls (group 0) and their WGSL types. */
export interface DirectLayout {
  /** variableNames that never change for a layer (weights): bind group 0, cached per buffers. */
  constant: readonly string[];
  /** WGSL element type of each variable (before vectorizing by variableComponents). */
  types: Readonly<Record<string, WgslType>>;
  output: WgslType;
}

const checked = new WeakMap<object, BackendInternals | null>();

/** The backend's internals, or null when this tfjs-webgpu lacks any of them (callers fall back). */
export function directBackend(backend: object): BackendInternals | null {
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
export function canRecordDirect(d: BackendInternals): boolean {
  return d.activeTimers == null && !env().getBool('WEBGPU_ENGINE_COMPILE_ONLY');
}

/** The WGSL of `program` with our declarations: constants in group 0, the rest in group 1. */
export function directShader(program: WebGPUProgram, layout: DirectLayout): string {
  const vec = (t: WgslType, c: number): string => (c === 1 ? t : `vec${c}<${t}>`);
  const comps = (name: string): number => program.variableComponents?.[program.variableNames.indexOf(name)] ?? 1;
  const perCall = program.variableNames.filter((n) => !layout.constant.includes(n));
  const g = layout.constant.length > 0 ? 1 : 0;
  const L = [
    'var<private> localId: vec3<u32>;', 'var<private> localIndex: u32;', 'var<private> globalId: vec3<u32>;',
    'var<private> numWorkgroups: vec3<u32>;', 'var<private> workgroupId: vec3<u32>;',
    'struct Uniforms { m : i32, };',
  ];
  layout.constant.forEach((name, i) => {
    L.push(`@group(0) @binding(${i}) var<storage, read> ${name}: array<${vec(layout.types[name], comps(name))}>;`);
  });
  L.push(`@group(${g}) @binding(0) var<storage, read_write> result: array<${layout.output}>;`);
  perCall.forEach((name, i) => {
    L.push(`@group(${g}) @binding(${i + 1}) var<storage, read> ${name}: array<${vec(layout.types[name], comps(name))}>;`);
  });
  L.push(`@group(${g}) @binding(${perCall.length + 1}) var<uniform> uniforms: Uniforms;`);
  L.push(program.getUserCode());
  const flat = !(program.dispatchLayout.y?.length) && !(program.dispatchLayout.z?.length);
  const [wx, wy, wz] = program.workgroupSize;
  L.push(`@compute @workgroup_size(${wx}, ${wy}, ${wz})
fn _start(@builtin(local_invocation_id) LocalId : vec3<u32>, @builtin(global_invocation_id) GlobalId : vec3<u32>,
          @builtin(local_invocation_index) LocalIndex: u32, @builtin(workgroup_id) WorkgroupId : vec3<u32>,
          @builtin(num_workgroups) NumWorkgroups : vec3<u32>) {
  localId = LocalId; localIndex = LocalIndex; globalId = GlobalId; numWorkgroups = NumWorkgroups; workgroupId = WorkgroupId;
  main(${flat ? 'i32(GlobalId.x)' : ''});
}`);
  return L.join('\n');
}

interface DeviceCache {
  pipelines: Map<string, GPUComputePipeline>;
  layouts: Map<string, GPUBindGroupLayout>;
  pipelineLayouts: Map<string, GPUPipelineLayout>;
  uniforms: Map<number, GPUBuffer>;
  /** Bind groups by their buffers, in binding order (a trie of weak maps). */
  groups: WeakMap<GPUBuffer, unknown>;
}

const caches = new WeakMap<GPUDevice, DeviceCache>();

function deviceCache(device: GPUDevice): DeviceCache {
  let c = caches.get(device);
  if (!c) {
    c = { pipelines: new Map(), layouts: new Map(), pipelineLayouts: new Map(), uniforms: new Map(), groups: new WeakMap() };
    caches.set(device, c);
  }
  return c;
}

/** Bind group layout: `readOnly` read-only storage buffers, after one writable one and before a uniform if asked. */
function groupLayout(device: GPUDevice, c: DeviceCache, writable: boolean, readOnly: number, uniform: boolean): GPUBindGroupLayout {
  const key = `${writable ? 'w' : ''}${readOnly}${uniform ? 'u' : ''}`;
  let l = c.layouts.get(key);
  if (!l) {
    const entries: GPUBindGroupLayoutEntry[] = [];
    const add = (type: GPUBufferBindingType): void => {
      entries.push({ binding: entries.length, visibility: GPUShaderStage.COMPUTE, buffer: { type } });
    };
    if (writable) add('storage');
    for (let i = 0; i < readOnly; i++) add('read-only-storage');
    if (uniform) add('uniform');
    l = device.createBindGroupLayout({ entries });
    c.layouts.set(key, l);
  }
  return l;
}

interface DirectPipeline {
  pipeline: GPUComputePipeline;
  constantLayout: GPUBindGroupLayout | null;
  callLayout: GPUBindGroupLayout;
}

const programPipelines = new WeakMap<GPUDevice, Map<string, DirectPipeline>>();

/** The pipeline of `program` under `layout`, compiled on the first call per device and shaderKey. */
function directPipeline(device: GPUDevice, program: WebGPUProgram, layout: DirectLayout): DirectPipeline {
  let byKey = programPipelines.get(device);
  if (!byKey) {
    byKey = new Map();
    programPipelines.set(device, byKey);
  }
  let p = byKey.get(program.shaderKey);
  if (!p) {
    const c = deviceCache(device);
    const nConst = layout.constant.length;
    const constantLayout = nConst > 0 ? groupLayout(device, c, false, nConst, false) : null;
    const callLayout = groupLayout(device, c, true, program.variableNames.length - nConst, true);
    const bindGroupLayouts = constantLayout ? [constantLayout, callLayout] : [callLayout];
    const pipeline = device.createComputePipeline({
      label: program.shaderKey,
      layout: device.createPipelineLayout({ bindGroupLayouts }),
      compute: { module: device.createShaderModule({ code: directShader(program, layout), label: program.shaderKey }), entryPoint: '_start' },
    });
    p = { pipeline, constantLayout, callLayout };
    byKey.set(program.shaderKey, p);
  }
  return p;
}

/** `uniforms.m = M`: one buffer per device and M, written when created. */
function uniformBuffer(device: GPUDevice, M: number): GPUBuffer {
  const c = deviceCache(device);
  let b = c.uniforms.get(M);
  if (!b) {
    b = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, mappedAtCreation: true });
    new Int32Array(b.getMappedRange()).set([M, 0, 0, 0]);
    b.unmap();
    c.uniforms.set(M, b);
  }
  return b;
}

/** The bind group of `buffers` (binding i = buffers[i]) under `layout`, created once per buffers and layout. */
function bindGroup(device: GPUDevice, layout: GPUBindGroupLayout, buffers: readonly GPUBuffer[]): GPUBindGroup {
  const c = deviceCache(device);
  let node = c.groups as WeakMap<object, unknown>;
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
  }
  return g;
}

function gpuBuffer(d: BackendInternals, t: TensorInfo): GPUBuffer | null {
  d.uploadToGPU(t.dataId);
  const r = d.tensorMap.get(t.dataId)?.resource;
  return typeof GPUBuffer !== 'undefined' && r instanceof GPUBuffer ? r : null;
}

/**
 * Records `program` over `inputs` (in variableNames order) into `output`, which the caller made
 * with backend.makeTensorInfo (it may carry values, uploaded here first). Returns false, having
 * recorded nothing, when a tensor does not live in a GPU buffer (a texture): the caller then
 * uses runWebGPUProgram.
 */
export function recordDirect(d: BackendInternals, program: WebGPUProgram, layout: DirectLayout,
  inputs: readonly TensorInfo[], output: TensorInfo, M: number): boolean {
  const { device } = d;
  const outBuf = gpuBuffer(d, output);
  if (!outBuf) return false;
  const constant: GPUBuffer[] = [];
  const perCall: GPUBuffer[] = [outBuf];
  for (let i = 0; i < inputs.length; i++) {
    const buf = gpuBuffer(d, inputs[i]);
    if (!buf) return false;
    (layout.constant.includes(program.variableNames[i]) ? constant : perCall).push(buf);
  }
  perCall.push(uniformBuffer(device, M));
  const p = directPipeline(device, program, layout);
  for (const t of inputs) d.commandQueueOwnedIds.add(t.dataId);
  d.commandQueueOwnedIds.add(output.dataId);
  d.ensureCommandEncoderReady();
  if (!d.computePassEncoder) d.computePassEncoder = d.commandEncoder!.beginComputePass({});
  const pass = d.computePassEncoder;
  pass.setPipeline(p.pipeline);
  let g = 0;
  if (p.constantLayout) pass.setBindGroup(g++, bindGroup(device, p.constantLayout, constant));
  pass.setBindGroup(g, bindGroup(device, p.callLayout, perCall));
  const [x, y, z] = program.dispatch;
  pass.dispatchWorkgroups(x, y, z);
  d.dispatchCountInPass++;
  if ((env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number) <= d.dispatchCountInPass) {
    d.endComputePassEncoder();
    d.submitQueue();
  }
  return true;
}
