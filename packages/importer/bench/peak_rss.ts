/**
 * Peak resident memory of `importCheckpoint`, to compare with the largest tensor (issue 12 §1:
 * under 1.5x the largest layer plus a fixed overhead).
 *
 *   bash packages/importer/bench/run.sh <hfDir> [--dtype float16]
 *   bash packages/importer/bench/run.sh --synthetic <dir> [--hidden 1024 --layers 4 --vocab 32064]
 *
 * `--synthetic` first writes a LLaVA-1.5-shaped checkpoint with random F16 weights (config and
 * tokenizer files from fixtures/hf/llava-1.5-tiny, dimensions scaled) to <dir>, streaming it
 * tensor by tensor, in a child process so its memory does not count. The measurement runs in a
 * fresh process and reads the kernel's high-water mark (VmHWM), so nothing between samples is missed.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importCheckpoint, SafetensorsCheckpoint } from '@tfjs-mbq/importer';

function arg(name: string, dflt?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

function vmHwmBytes(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** A LLaVA-1.5-shaped checkpoint (CLIP 336/14 + LLaMA) with random F16 weights, written tensor by tensor. */
function writeSynthetic(dir: string, hidden: number, layers: number, vocab: number): void {
  const tiny = 'fixtures/hf/llava-1.5-tiny';
  mkdirSync(dir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'processor_config.json']) copyFileSync(join(tiny, f), join(dir, f));
  const cfg = JSON.parse(readFileSync(join(tiny, 'config.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  const t = cfg.text_config!;
  Object.assign(t, { hidden_size: hidden, intermediate_size: Math.round((hidden * 11008) / 4096), num_hidden_layers: layers, num_attention_heads: hidden / 128, num_key_value_heads: hidden / 128, head_dim: 128, vocab_size: vocab });
  Object.assign(cfg.vision_config!, { hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 3, num_attention_heads: 16, image_size: 42, patch_size: 14 });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  const v = cfg.vision_config as { hidden_size: number; intermediate_size: number; num_hidden_layers: number; image_size: number; patch_size: number };
  const mlp = t.intermediate_size as number;
  const shapes: Array<[string, number[]]> = [];
  const vp = 'vision_tower.vision_model.';
  shapes.push([`${vp}embeddings.patch_embedding.weight`, [v.hidden_size, 3, v.patch_size, v.patch_size]], [`${vp}embeddings.class_embedding`, [v.hidden_size]],
    [`${vp}embeddings.position_embedding.weight`, [(v.image_size / v.patch_size) ** 2 + 1, v.hidden_size]], [`${vp}pre_layrnorm.weight`, [v.hidden_size]], [`${vp}pre_layrnorm.bias`, [v.hidden_size]]);
  for (let i = 0; i < v.num_hidden_layers - 1; i++) {
    const p = `${vp}encoder.layers.${i}.`;
    for (const n of ['layer_norm1', 'layer_norm2']) shapes.push([`${p}${n}.weight`, [v.hidden_size]], [`${p}${n}.bias`, [v.hidden_size]]);
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) shapes.push([`${p}self_attn.${n}.weight`, [v.hidden_size, v.hidden_size]], [`${p}self_attn.${n}.bias`, [v.hidden_size]]);
    shapes.push([`${p}mlp.fc1.weight`, [v.intermediate_size, v.hidden_size]], [`${p}mlp.fc1.bias`, [v.intermediate_size]], [`${p}mlp.fc2.weight`, [v.hidden_size, v.intermediate_size]], [`${p}mlp.fc2.bias`, [v.hidden_size]]);
  }
  shapes.push(['multi_modal_projector.linear_1.weight', [hidden, v.hidden_size]], ['multi_modal_projector.linear_1.bias', [hidden]], ['multi_modal_projector.linear_2.weight', [hidden, hidden]], ['multi_modal_projector.linear_2.bias', [hidden]]);
  const lp = 'language_model.model.';
  shapes.push([`${lp}embed_tokens.weight`, [vocab, hidden]]);
  for (let i = 0; i < layers; i++) {
    const p = `${lp}layers.${i}.`;
    shapes.push([`${p}input_layernorm.weight`, [hidden]], [`${p}post_attention_layernorm.weight`, [hidden]]);
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) shapes.push([`${p}self_attn.${n}.weight`, [hidden, hidden]]);
    shapes.push([`${p}mlp.gate_proj.weight`, [mlp, hidden]], [`${p}mlp.up_proj.weight`, [mlp, hidden]], [`${p}mlp.down_proj.weight`, [hidden, mlp]]);
  }
  shapes.push([`${lp}norm.weight`, [hidden]], ['language_model.lm_head.weight', [vocab, hidden]]);
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape] of shapes) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype: 'F16', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  while (json.length % 8) json += ' ';
  const fd = openSync(join(dir, 'model.safetensors'), 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeSync(fd, len);
  writeSync(fd, json);
  // Small random halves (|x| < 2^-4): a 1 MiB pattern repeated, enough to exercise the decode.
  const pattern = Buffer.alloc(1 << 20);
  let s = 12345;
  for (let i = 0; i < pattern.length; i += 2) { s = (s * 1103515245 + 12345) >>> 0; pattern.writeUInt16LE(0x2000 | (s >>> 20 & 0x3ff) | (s & 0x8000), i); }
  for (let left = offset; left > 0; left -= pattern.length) writeSync(fd, pattern, 0, Math.min(left, pattern.length));
  closeSync(fd);
}

async function measure(hfDir: string): Promise<void> {
  const ckpt = await SafetensorsCheckpoint.open(hfDir);
  let largest = { name: '', bytes: 0 };
  for (const n of ckpt.names()) {
    const e = ckpt.entry(n);
    const f32 = (e.byteLength / (e.dtype === 'F32' ? 4 : e.dtype === 'F64' ? 8 : 2)) * 4;
    if (f32 > largest.bytes) largest = { name: n, bytes: f32 };
  }
  await ckpt.close();
  const out = join(tmpdir(), `mbq-rss-${process.pid}`);
  const before = process.memoryUsage().rss;
  const t0 = Date.now();
  const fuse = process.argv.includes('--fuse');
  const r = await importCheckpoint({ hfDir, outDir: out, dtype: arg('dtype', 'float32') as 'float32' | 'float16', fuse });
  const seconds = (Date.now() - t0) / 1000;
  const peak = vmHwmBytes();
  rmSync(out, { recursive: true, force: true });
  const mib = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;
  process.stdout.write(JSON.stringify({
    hfDir, dtype: arg('dtype', 'float32'), fuse, seconds, weights: r.weights, weightMiB: mib(r.weightBytes),
    largestTensor: largest.name, largestTensorFloat32MiB: mib(largest.bytes), rssBeforeMiB: mib(before), peakRssMiB: mib(peak),
    peakOverLargest: Math.round((peak / largest.bytes) * 100) / 100, node: process.version, date: new Date().toISOString().slice(0, 10),
  }, null, 1) + '\n');
}

const synthetic = arg('synthetic');
if (synthetic) {
  if (!process.argv.includes('--child')) {
    rmSync(synthetic, { recursive: true, force: true });
    writeSynthetic(synthetic, Number(arg('hidden', '1024')), Number(arg('layers', '4')), Number(arg('vocab', '32064')));
    const child = spawnSync(process.execPath, [process.argv[1]!, synthetic, ...process.argv.slice(2).filter((a, i, all) => a !== '--synthetic' && all[i - 1] !== '--synthetic')], { stdio: 'inherit' });
    process.exit(child.status ?? 1);
  }
} else {
  const dir = process.argv[2];
  if (!dir || dir.startsWith('--')) {
    process.stderr.write('usage: peak_rss <hfDir> [--dtype float16] [--fuse] | --synthetic <dir> [--hidden N --layers N --vocab N]\n');
    process.exit(2);
  }
  await measure(dir);
}
