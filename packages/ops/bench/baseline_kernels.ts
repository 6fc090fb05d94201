/// <reference types="@webgpu/types" />
/** Baselines measured in the same run: a raw vec4<u32> read and an fp16 GEMV (shader-f16). */

export interface Dispatchable {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  dispatch: [number, number, number];
}

function pipeline(device: GPUDevice, code: string): GPUComputePipeline {
  return device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
}

function bindAll(device: GPUDevice, p: GPUComputePipeline, bufs: Array<[GPUBuffer, number]>): GPUBindGroup {
  return device.createBindGroup({
    layout: p.getBindGroupLayout(0),
    entries: bufs.map(([buffer, size], i) => ({ binding: i, resource: { buffer, offset: 0, size } })),
  });
}

/** Reads `bytes` (multiple of 16) once with vec4<u32> loads, 4 independent loads per thread per step. */
export function rawRead(device: GPUDevice, src: GPUBuffer, bytes: number, sink: GPUBuffer): Dispatchable {
  const nv = bytes / 16;
  const wgs = Math.min(65535, Math.ceil(nv / (256 * 4)));
  const T = wgs * 256;
  const code = `
@group(0) @binding(0) var<storage, read> a: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> o: array<u32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var acc = vec4<u32>(0u);
  for (var base = g.x; base < ${nv}u; base += ${4 * T}u) {
    let i1 = min(base + ${T}u, ${nv - 1}u);
    let i2 = min(base + ${2 * T}u, ${nv - 1}u);
    let i3 = min(base + ${3 * T}u, ${nv - 1}u);
    acc = acc ^ a[base] ^ a[i1] ^ a[i2] ^ a[i3];
  }
  if (acc.x == 0x9e3779b9u && acc.y == 0x7f4a7c15u) { o[0] = acc.z; }
}`;
  const p = pipeline(device, code);
  return { pipeline: p, bindGroup: bindAll(device, p, [[src, bytes], [sink, 16]]), dispatch: [wgs, 1, 1] };
}

/**
 * fp16 GEMV y[N] = W[N, K] x[K], W in half precision (shader-f16), x and y float32, float32
 * accumulation. A team of 32 threads reads a row contiguously with vec4<u32> loads (8 halves),
 * R rows per team, two loads per row in flight per iteration, shared-memory reduction.
 */
export function fp16Gemv(device: GPUDevice, K: number, N: number, R: number,
  w: GPUBuffer, x: GPUBuffer, y: GPUBuffer, shaderF16 = true): Dispatchable {
  if (K % 16 !== 0) throw new Error('fp16Gemv: K % 16 != 0');
  const KV = K / 8;
  const TS = 32;
  const WG = 256;
  const TEAMS = WG / TS;
  const ROWS = TEAMS * R;
  const rows = Array.from({ length: R }, (_, r) => r);
  // Without shader-f16 (Dawn on NVIDIA Vulkan did not offer it) the halves are converted with
  // unpack2x16float: same bytes read, same float32 arithmetic.
  const cvt = shaderF16
    ? `let h0 = vec4<f32>(bitcast<vec4<f16>>(v.xy));
  let h1 = vec4<f32>(bitcast<vec4<f16>>(v.zw));`
    : `let h0 = vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y));
  let h1 = vec4<f32>(unpack2x16float(v.z), unpack2x16float(v.w));`;
  const code = `
${shaderF16 ? 'enable f16;' : ''}
@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
var<workgroup> red: array<f32, ${WG * R}>;
fn dot8(v: vec4<u32>, xa: vec4<f32>, xb: vec4<f32>) -> f32 {
  ${cvt}
  return dot(h0, xa) + dot(h1, xb);
}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let team = tid / ${TS}u;
  let lane = tid % ${TS}u;
  let row0 = wid.x * ${ROWS}u + team * ${R}u;
  ${rows.map((r) => `let n${r} = min(row0 + ${r}u, ${N - 1}u) * ${KV}u; var acc${r} = 0.0;`).join('\n  ')}
  var i = lane;
  for (; i + ${TS}u < ${KV}u; i += ${2 * TS}u) {
    let j = i + ${TS}u;
    let xa = x[2u * i]; let xb = x[2u * i + 1u];
    let xc = x[2u * j]; let xd = x[2u * j + 1u];
    ${rows.map((r) => `let v${r} = w[n${r} + i]; let u${r} = w[n${r} + j];`).join('\n    ')}
    ${rows.map((r) => `acc${r} += dot8(v${r}, xa, xb) + dot8(u${r}, xc, xd);`).join('\n    ')}
  }
  if (i < ${KV}u) {
    let xa = x[2u * i]; let xb = x[2u * i + 1u];
    ${rows.map((r) => `acc${r} += dot8(w[n${r} + i], xa, xb);`).join('\n    ')}
  }
  ${rows.map((r) => `red[(team * ${R}u + ${r}u) * ${TS}u + lane] = acc${r};`).join('\n  ')}
  workgroupBarrier();
  for (var h = ${TS / 2}u; h > 0u; h = h / 2u) {
    if (lane < h) {
      ${rows.map((r) => `red[(team * ${R}u + ${r}u) * ${TS}u + lane] += red[(team * ${R}u + ${r}u) * ${TS}u + lane + h];`).join('\n      ')}
    }
    workgroupBarrier();
  }
  if (lane < ${R}u) {
    let n = row0 + lane;
    if (n < ${N}u) { y[n] = red[(team * ${R}u + lane) * ${TS}u]; }
  }
}`;
  const p = pipeline(device, code);
  return { pipeline: p, bindGroup: bindAll(device, p, [[w, N * K * 2], [x, K * 4], [y, N * 4]]), dispatch: [Math.ceil(N / ROWS), 1, 1] };
}

export function record(pass: GPUComputePassEncoder, d: Dispatchable): void {
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, d.bindGroup);
  pass.dispatchWorkgroups(d.dispatch[0], d.dispatch[1], d.dispatch[2]);
}
