/**
 * Issue 15 on the Hugging Face import path: a checkpoint directory as an attacker or a careless
 * user makes it. Links out of the directory (shards, the index, sidecars; through a linked
 * sub-directory or a linked file; percent-encoded), files that are not files (a FIFO as weights or
 * config.json must not hang the import), and a config.json whose sizes would allocate without bound
 * (layer counts, positions, the Qwen2-VL image size) are each refused with one line naming the
 * file, before anything is allocated or written. A Hugging Face cache snapshot, whose files are
 * links into the cache's blob store, still imports.
 */
import { closeSync, cpSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importCheckpoint, SafetensorsCheckpoint } from '@tfjs-mbq/importer';
import { importErrorOf } from './helpers/import_error.js';
import { f32, writeSafetensors } from './helpers/safetensors_writer.js';

let tmp: string;
beforeEach(() => { tmp = mkdtempSync(join(tmpdir(), 'hostile-ckpt-')); });
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of a fixture checkpoint (without its records) at tmp/<name>. */
function copyOf(name: string): string {
  const d = join(tmp, name);
  cpSync(join('fixtures/hf', name), d, { recursive: true });
  rmSync(join(d, 'records'), { recursive: true, force: true });
  return d;
}

function mkfifo(path: string): void {
  execFileSync('mkfifo', [path]);
}

/** A secret outside the checkpoint whose size must not show in any message. */
function secret(): string {
  const dir = join(tmp, 'elsewhere');
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, 'secret.safetensors'), [f32('q.weight', [3], [1, 2, 3])]);
  writeFileSync(join(dir, 'secret.json'), '{"architectures": ["LlavaForConditionalGeneration"], "size": 123457}');
  return dir;
}

function expectNoWrite(out: string): void {
  expect(readdirSync(tmp)).not.toContain('out');
  expect(() => readdirSync(out)).toThrow();
}

describe('links out of the checkpoint directory', () => {
  it('refuses a shard reached through a linked sub-directory, a linked shard file and a percent-encoded climb, naming the index', async () => {
    const outside = secret();
    const d = join(tmp, 'ckpt');
    mkdirSync(d);
    writeSafetensors(join(d, 'model-1.safetensors'), [f32('x.weight', [2], [1, 2])]);
    symlinkSync(outside, join(d, 'sub'));
    symlinkSync(join(outside, 'secret.safetensors'), join(d, 'model-2.safetensors'));
    const index = join(d, 'model.safetensors.index.json');
    for (const shard of ['sub/secret.safetensors', 'model-2.safetensors']) {
      writeFileSync(index, JSON.stringify({ weight_map: { 'x.weight': 'model-1.safetensors', 'q.weight': shard } }));
      const m = await importErrorOf(SafetensorsCheckpoint.open(d));
      expect(m).toBe(`${index}: ${join(d, shard)}: resolves outside ${d} (through a symbolic link)`);
    }
    writeFileSync(index, JSON.stringify({ weight_map: { 'q.weight': '%2e%2e/elsewhere/secret.safetensors' } }));
    expect(await importErrorOf(SafetensorsCheckpoint.open(d))).toBe(`${index}: shard "%2e%2e/elsewhere/secret.safetensors" (of tensor 'q.weight') is outside the checkpoint directory`);
  });

  it('refuses a linked model.safetensors, index and config.json, without telling anything about the target', async () => {
    const outside = secret();
    for (const [file, target] of [['model.safetensors', 'secret.safetensors'], ['config.json', 'secret.json'], ['tokenizer.json', 'secret.json']] as const) {
      const d = copyOf('llava-1.5-tiny');
      rmSync(join(d, file));
      symlinkSync(join(outside, target), join(d, file));
      const out = join(tmp, 'out');
      const m = await importErrorOf(importCheckpoint({ hfDir: d, outDir: out }));
      expect(m).toBe(`${join(d, file)}: resolves outside ${d} (through a symbolic link)`);
      expect(m).not.toMatch(/123457|bytes/);
      expectNoWrite(out);
      rmSync(d, { recursive: true });
    }
  });

  it('imports a Hugging Face cache snapshot, whose files are links into ../../blobs', async () => {
    const repo = join(tmp, 'models--tiny--llava');
    const snapshot = join(repo, 'snapshots', '0123abcd');
    mkdirSync(join(repo, 'blobs'), { recursive: true });
    mkdirSync(snapshot, { recursive: true });
    const src = copyOf('llava-1.5-tiny');
    for (const f of readdirSync(src)) {
      renameSync(join(src, f), join(repo, 'blobs', `blob-${f}`));
      symlinkSync(join('..', '..', 'blobs', `blob-${f}`), join(snapshot, f));
    }
    const r = await importCheckpoint({ hfDir: snapshot, outDir: join(tmp, 'out') });
    expect(r.architecture).toBe('LlavaForConditionalGeneration');
    expect(readFileSync(join(tmp, 'out', 'tokenizer.json')).equals(readFileSync(join(repo, 'blobs', 'blob-tokenizer.json')))).toBe(true);
  });
});

describe('files that are not files', () => {
  it.each(['model.safetensors', 'config.json', 'tokenizer_config.json'])('a FIFO as %s is refused at once, not waited on', async (file) => {
    const d = copyOf('llava-1.5-tiny');
    rmSync(join(d, file));
    mkfifo(join(d, file));
    const out = join(tmp, 'out');
    // No writer ever opens the FIFO: a blocking open or read would hang here (and time the test out).
    const m = await importErrorOf(importCheckpoint({ hfDir: d, outDir: out }));
    expect(m).toBe(`${join(d, file)}: is a FIFO, not a regular file`);
    expectNoWrite(out);
  });

  it('a FIFO as a shard named by the index is refused naming it', async () => {
    const d = join(tmp, 'ckpt');
    mkdirSync(d);
    mkfifo(join(d, 'model-1.safetensors'));
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'x.weight': 'model-1.safetensors' } }));
    expect(await importErrorOf(SafetensorsCheckpoint.open(d))).toBe(`${join(d, 'model-1.safetensors')}: is a FIFO, not a regular file`);
  });
});

// Issue 15 §1: a user's directory as --out is refused and left as it was; the line names no
// option import does not have (it pointed to --overwrite, which only convert has).
test('an --out holding a user\'s files is refused, files untouched, no --overwrite hint', async () => {
  const out = join(tmp, 'mine');
  mkdirSync(out);
  writeFileSync(join(out, 'notes.txt'), 'mine');
  writeFileSync(join(out, 'model.json'), '{}');
  expect(await importErrorOf(importCheckpoint({ hfDir: 'fixtures/hf/llava-1.5-tiny', outDir: out }))).toBe(
    `output path ${out} is not empty (model.json, notes.txt); choose an empty or new directory`,
  );
  expect(readdirSync(out).sort()).toEqual(['model.json', 'notes.txt']);
  expect(readFileSync(join(out, 'model.json'), 'utf8')).toBe('{}');
});

describe('config.json sizes that would allocate without bound', () => {
  function withConfig(name: string, edit: (c: Record<string, Record<string, unknown>>) => void): string {
    const d = copyOf(name);
    const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    edit(c);
    writeFileSync(join(d, 'config.json'), JSON.stringify(c));
    return d;
  }

  it('a billion decoder or vision layers: refused while planning, naming config.json', async () => {
    for (const section of ['text_config', 'vision_config']) {
      const d = withConfig('llava-1.5-tiny', (c) => { c[section]!.num_hidden_layers = 1e9; });
      const out = join(tmp, 'out');
      expect(await importErrorOf(importCheckpoint({ hfDir: d, outDir: out }))).toBe(
        `${join(d, 'config.json')}: the configuration implies more than 100000 weight tensors (absurd layer counts?)`,
      );
      expectNoWrite(out);
      rmSync(d, { recursive: true });
    }
  });

  it('a norm epsilon or RoPE theta of 0 or below (NaN or infinite weights): refused naming config.json and the field', async () => {
    const cases: Array<[string, (c: Record<string, Record<string, unknown>>) => void, string]> = [
      ['text_config.rms_norm_eps', (c) => { c.text_config!.rms_norm_eps = -1; }, '-1'],
      ['text_config.rope_parameters.rope_theta', (c) => { c.text_config!.rope_parameters = { rope_theta: 0, rope_type: 'default' }; }, '0'],
      ['vision_config.layer_norm_eps', (c) => { c.vision_config!.layer_norm_eps = 0; }, '0'],
    ];
    for (const [field, edit, got] of cases) {
      const d = withConfig('llava-1.5-tiny', edit);
      const out = join(tmp, 'out');
      expect(await importErrorOf(importCheckpoint({ hfDir: d, outDir: out }))).toBe(`${join(d, 'config.json')}: ${field} must be a finite number > 0, got ${got}`);
      expectNoWrite(out);
      rmSync(d, { recursive: true });
    }
  });

  it('a tokenizer with ids past config.json\'s vocab_size: refused naming tokenizer.json, nothing written', async () => {
    const d = copyOf('llava-1.5-tiny');
    const tf = join(d, 'tokenizer.json');
    const t = JSON.parse(readFileSync(tf, 'utf8')) as { added_tokens: unknown[] };
    t.added_tokens.push({ id: 600, content: '<zz>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: false });
    writeFileSync(tf, JSON.stringify(t));
    const out = join(tmp, 'out');
    expect(await importErrorOf(importCheckpoint({ hfDir: d, outDir: out }))).toBe(`${tf}: has ids up to 600 but config.json's vocab_size is 544 (the embedding's rows)`);
    expectNoWrite(out);
  });

  it('max_position_embeddings of 10^12: the graph covers the positions asked for, mbq.json says how many', async () => {
    const d = withConfig('llava-1.5-tiny', (c) => { c.text_config!.max_position_embeddings = 1e12; });
    const r = await importCheckpoint({ hfDir: d, outDir: join(tmp, 'out'), maxPositions: 300 });
    expect(r.mbq.maxPositions).toBe(300);
    const model = JSON.parse(readFileSync(join(tmp, 'out', 'model.json'), 'utf8')) as { weightsManifest: Array<{ weights: Array<{ name: string; shape: number[] }> }> };
    const mask = model.weightsManifest[0]!.weights.find((w) => w.name === 'lm/causal_mask/table');
    expect(mask?.shape).toEqual([300, 300]);
    // Unchanged when config.json states no more than the graph covers.
    const plain = await importCheckpoint({ hfDir: 'fixtures/hf/llava-1.5-tiny', outDir: join(tmp, 'plain') });
    expect(plain.mbq.maxPositions).toBeUndefined();
  });

  it.each([0, 1, 16385, 1.5, Number.NaN])('--max-positions %p is refused before reading the checkpoint', async (v) => {
    expect(await importErrorOf(importCheckpoint({ hfDir: join(tmp, 'missing'), outDir: join(tmp, 'out'), maxPositions: v }))).toBe(
      `--max-positions must be an integer from 2 to 16384, got ${v}`,
    );
  });

  it('a Qwen2-VL processor whose min_pixels asks for a gigapixel image: refused before the graph is built', async () => {
    const d = copyOf('qwen2-vl-tiny');
    const pf = join(d, 'processor_config.json');
    const p = JSON.parse(readFileSync(pf, 'utf8')) as { image_processor: Record<string, unknown> };
    p.image_processor.min_pixels = 1e12;
    p.image_processor.max_pixels = 2e12;
    if (p.image_processor.size) p.image_processor.size = { shortest_edge: 1e12, longest_edge: 2e12 };
    writeFileSync(pf, JSON.stringify(p));
    const out = join(tmp, 'out');
    const m = await importErrorOf(importCheckpoint({ hfDir: d, outDir: out }));
    expect(m).toMatch(new RegExp(`^${pf}: the graph's input image would be \\d+x\\d+: the image is \\d+x\\d+ pixels, over the limit of 8192 on a side`));
    expectNoWrite(out);
  });

  it('a config.json and a sparse model.safetensors that agree on a 2^31-element embedding: refused before it is allocated', async () => {
    const vocab = 2 ** 25; // x hidden 64 = 2^31 elements, 8 GiB of F32 per table: the file is sparse
    const d = withConfig('llava-1.5-tiny', (c) => { c.text_config!.vocab_size = vocab; });
    const file = join(d, 'model.safetensors');
    const bytes = readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    let offset = 0;
    for (const [name, t] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      if (name.endsWith('embed_tokens.weight') || name.endsWith('lm_head.weight')) t.shape = [vocab, 64];
      const size = t.shape.reduce((a, b) => a * b, 1) * 4;
      t.data_offsets = [offset, offset + size];
      offset += size;
    }
    let json = JSON.stringify(header);
    while (json.length % 8 !== 0) json += ' ';
    const fd = openSync(file, 'w');
    try {
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      writeSync(fd, len);
      writeSync(fd, json);
      ftruncateSync(fd, 8 + json.length + offset); // zeros, never written: no disk space used
    } finally {
      closeSync(fd);
    }
    const out = join(tmp, 'out');
    expect(await importErrorOf(importCheckpoint({ hfDir: d, outDir: out }))).toMatch(
      new RegExp(`^${file}: tensor 'language_model\\.(model\\.embed_tokens|lm_head)\\.weight' has 2147483648 elements, more than the 1073741824 the importer holds at once`),
    );
    expectNoWrite(out);
  });
});

describe('a refused import leaves no file open', () => {
  /**
   * This process's open files under `dir` (Linux /proc): a FileHandle left open stays here until the
   * garbage collector closes it, with a warning printed into whatever runs at that moment.
   */
  const openFilesUnder = (dir: string): string[] => readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(join('/proc/self/fd', fd));
      return target.startsWith(dir + '/') ? [target] : [];
    } catch {
      return []; // closed while listed (the directory's own descriptor)
    }
  });

  it.each([
    ['a NaN weight', Number.NaN, 'float32', /holds NaN \(weights must be finite\)/],
    ['a weight beyond float16', 1e6, 'float16', /beyond float16's range; import with --dtype float32/],
  ] as const)('%s: refused, and the shard being written is closed', async (_what, value, dtype, message) => {
    const d = copyOf('llava-1.5-tiny');
    const file = join(d, 'model.safetensors');
    const bytes = readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
    // A tensor written late: earlier tensors have opened the output shard by then.
    bytes.writeFloatLE(value, 8 + n + header['language_model.model.layers.1.mlp.down_proj.weight']!.data_offsets[0] + 12);
    writeFileSync(file, bytes);
    const out = join(tmp, 'out');
    expect(await importErrorOf(importCheckpoint({ hfDir: d, outDir: out, dtype }))).toMatch(message);
    expect(openFilesUnder(tmp)).toEqual([]);
    expectNoWrite(out);
  });
});
