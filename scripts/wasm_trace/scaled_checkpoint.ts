/**
 * A LLaVA checkpoint with fixtures/hf/llava-1.5-tiny's vision tower, tokenizer and processor and a
 * wider, deeper random decoder (for timing only: where the decoder's linears dominate a decode
 * step, unlike the fixture's hidden-64/128 decoders):
 *   node scripts/wasm_trace/dist/scaled_checkpoint.mjs <outDir> [hidden=1024] [mlp=2816] [layers=4] [heads=16] [kvHeads=8]
 * Decoder matrices randn / sqrt(fan_in), norm weights 1 + 0.1 randn, projector biases 0.05 randn
 * (the fixtures' init), seeded (mulberry32(7)); the vision tower's tensors are the fixture's.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '@tfjs-mbq/ops';

const SRC = 'fixtures/hf/llava-1.5-tiny';
const [out, ...dims] = process.argv.slice(2);
if (!out) throw new Error('usage: scaled_checkpoint.mjs <outDir> [hidden] [mlp] [layers] [heads] [kvHeads]');
const [H, F, L, heads, kvHeads] = [1024, 2816, 4, 16, 8].map((d, i) => (dims[i] === undefined ? d : Number(dims[i])));
if (![H, F, L, heads, kvHeads].every((v) => Number.isInteger(v) && v! > 0) || H! % heads! !== 0 || heads! % kvHeads! !== 0) {
  throw new Error(`bad sizes: hidden ${H}, mlp ${F}, layers ${L}, heads ${heads}, kvHeads ${kvHeads}`);
}
if (existsSync(join(out, 'model.safetensors'))) throw new Error(`${out}: already has model.safetensors`);
const headDim = H! / heads!;

const rand = mulberry32(7);
const randn = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const matrix = (rows: number, cols: number): Float32Array => Float32Array.from({ length: rows * cols }, () => randn() / Math.sqrt(cols));
const around = (n: number, base: number, spread: number): Float32Array => Float32Array.from({ length: n }, () => base + spread * randn());

// The source's tensors (vision tower kept as is).
const srcBytes = readFileSync(join(SRC, 'model.safetensors'));
const headerLen = Number(srcBytes.readBigUInt64LE(0));
const header = JSON.parse(srcBytes.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
const tensors: Array<[string, number[], Float32Array]> = [];
for (const [name, t] of Object.entries(header)) {
  if (name === '__metadata__' || !name.startsWith('vision_tower.')) continue;
  if (t.dtype !== 'F32') throw new Error(`${SRC}: ${name} is ${t.dtype}, expected F32`);
  const [a, b] = t.data_offsets;
  const bytes = srcBytes.subarray(8 + headerLen + a, 8 + headerLen + b);
  tensors.push([name, t.shape, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))]);
}
const config = JSON.parse(readFileSync(join(SRC, 'config.json'), 'utf8')) as { text_config: Record<string, unknown>; vision_config: { hidden_size: number } };
const V = config.text_config.vocab_size as number;
const vision = config.vision_config.hidden_size;
const add = (name: string, shape: number[], data: Float32Array): void => { tensors.push([name, shape, data]); };
add('multi_modal_projector.linear_1.weight', [H!, vision], matrix(H!, vision));
add('multi_modal_projector.linear_1.bias', [H!], around(H!, 0, 0.05));
add('multi_modal_projector.linear_2.weight', [H!, H!], matrix(H!, H!));
add('multi_modal_projector.linear_2.bias', [H!], around(H!, 0, 0.05));
add('language_model.model.embed_tokens.weight', [V, H!], around(V * H!, 0, 1));
add('language_model.lm_head.weight', [V, H!], matrix(V, H!));
add('language_model.model.norm.weight', [H!], around(H!, 1, 0.1));
for (let l = 0; l < L!; l++) {
  const p = `language_model.model.layers.${l}.`;
  add(`${p}input_layernorm.weight`, [H!], around(H!, 1, 0.1));
  add(`${p}post_attention_layernorm.weight`, [H!], around(H!, 1, 0.1));
  add(`${p}self_attn.q_proj.weight`, [H!, H!], matrix(H!, H!));
  add(`${p}self_attn.k_proj.weight`, [kvHeads! * headDim, H!], matrix(kvHeads! * headDim, H!));
  add(`${p}self_attn.v_proj.weight`, [kvHeads! * headDim, H!], matrix(kvHeads! * headDim, H!));
  add(`${p}self_attn.o_proj.weight`, [H!, H!], matrix(H!, H!));
  add(`${p}mlp.gate_proj.weight`, [F!, H!], matrix(F!, H!));
  add(`${p}mlp.up_proj.weight`, [F!, H!], matrix(F!, H!));
  add(`${p}mlp.down_proj.weight`, [H!, F!], matrix(H!, F!));
}

// safetensors: u64 header length, JSON header, raw little-endian data.
const outHeader: Record<string, unknown> = { __metadata__: { format: 'pt' } };
let offset = 0;
for (const [name, shape, data] of tensors) {
  outHeader[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
  offset += data.byteLength;
}
let json = JSON.stringify(outHeader);
json += ' '.repeat((8 - (json.length % 8)) % 8);
mkdirSync(out, { recursive: true });
const file = Buffer.alloc(8 + json.length + offset);
file.writeBigUInt64LE(BigInt(json.length), 0);
file.write(json, 8, 'utf8');
let at = 8 + json.length;
for (const [, , data] of tensors) { Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(file, at); at += data.byteLength; }
for (const f of readdirSync(SRC)) if (f !== 'model.safetensors' && f !== 'config.json' && f !== 'records') copyFileSync(join(SRC, f), join(out, f));
Object.assign(config.text_config, { hidden_size: H, intermediate_size: F, num_hidden_layers: L, num_attention_heads: heads, num_key_value_heads: kvHeads, head_dim: headDim });
writeFileSync(join(out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
writeFileSync(join(out, 'model.safetensors'), file);
console.log(`wrote ${out}: decoder hidden ${H}, mlp ${F}, ${L} layers, ${heads} heads (${kvHeads} kv), ${(offset / 2 ** 20).toFixed(1)} MiB float32`);
