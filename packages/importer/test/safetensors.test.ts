import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsCheckpoint, SafetensorsFile, halfToFloat } from '@tfjs-mbq/importer';
import { importErrorOf } from './helpers/import_error.js';
import { f32, i64, safetensorsBytes, u16, writeSafetensors } from './helpers/safetensors_writer.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'safetensors-test-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(path: string, name: string, chunk?: number): Promise<Float32Array> {
  const f = await SafetensorsFile.open(path, chunk);
  try { return await f.readFloat32(name); } finally { await f.close(); }
}

describe('float conversions, against hand-computed values', () => {
  // binary16: sign | 5-bit exponent (bias 15) | 10-bit fraction.
  const halves: Array<[number, number]> = [
    [0x3c00, 1], [0xc000, -2], [0x7bff, 65504], [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24], [0x0400, 2 ** -14],
    // 0x3555 = 2^-2 * (1 + 0x155/1024) = 0.25 * 1.3330078125
    [0x3555, 0.333251953125], [0x7c00, Infinity], [0xfc00, -Infinity], [0x3e00, 1.5], [0xb400, -0.25],
  ];

  it('F16 -> float32 for normals, subnormals, extremes and infinities', async () => {
    for (const [h, v] of halves) expect(halfToFloat(h)).toBe(v);
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
    expect(halfToFloat(0x7e00)).toBeNaN();
    const path = join(dir, 'h.safetensors');
    writeSafetensors(path, [u16('h', 'F16', [halves.length], halves.map(([h]) => h))]);
    expect(Array.from(await readAll(path, 'h'))).toEqual(halves.map(([, v]) => v));
  });

  it('BF16 -> float32 (bf16 bits are the top 16 bits of the float32)', async () => {
    // 0x3F80 = 1; 0x4049 = 0x40490000 = 3.140625; 0xC2F7 = -123.5; 0x0001 = 2^16 * 2^-149 = 2^-133; 0x7F7F = (2 - 2^-7) * 2^127.
    const cases: Array<[number, number]> = [[0x3f80, 1], [0x4049, 3.140625], [0xc2f7, -123.5], [0x0001, 2 ** -133], [0x7f7f, (2 - 2 ** -7) * 2 ** 127], [0xff80, -Infinity]];
    const path = join(dir, 'b.safetensors');
    writeSafetensors(path, [u16('b', 'BF16', [2, 3], cases.map(([h]) => h))]);
    // A 6-byte read chunk splits the tensor into three reads of 3 values.
    for (const chunk of [undefined, 6, 2]) expect(Array.from(await readAll(path, 'b', chunk))).toEqual(cases.map(([, v]) => v));
  });

  it('F32 and F64 values, several tensors, in order and by name', async () => {
    const path = join(dir, 'f.safetensors');
    const f64 = new Float64Array([0.1, -2.5, 1e300]);
    writeSafetensors(path, [f32('a', [2, 2], [1, -2, 3.5, 1e-30]), { name: 'b', dtype: 'F64', shape: [3], bytes: new Uint8Array(f64.buffer) }], { metadata: { format: 'pt' } });
    const f = await SafetensorsFile.open(path, 4);
    expect(f.header.metadata).toEqual({ format: 'pt' });
    expect(f.entry('a')).toMatchObject({ dtype: 'F32', shape: [2, 2], byteLength: 16 });
    expect(Array.from(await f.readFloat32('a'))).toEqual([1, -2, 3.5, Math.fround(1e-30)]);
    expect(Array.from(await f.readFloat32('b'))).toEqual([Math.fround(0.1), -2.5, Infinity]);
    await f.close();
  });

  it('I64 reads as int32 when it fits, and refuses values that do not', async () => {
    const path = join(dir, 'i.safetensors');
    writeSafetensors(path, [i64('ok', [3], [0n, -5n, 2147483647n]), i64('big', [2], [1n, 2147483648n]), f32('w', [1], [1])]);
    const f = await SafetensorsFile.open(path);
    expect(Array.from(await f.readInt32('ok'))).toEqual([0, -5, 2147483647]);
    expect(await importErrorOf(f.readInt32('big'))).toMatch(/i\.safetensors: tensor 'big' value 1 does not fit in int32/);
    expect(await importErrorOf(f.readInt32('w'))).toMatch(/tensor 'w' is F32; expected I32 or I64/);
    expect(await importErrorOf(f.readFloat32('ok'))).toMatch(/tensor 'ok' is I64; expected a float type/);
    await f.close();
  });
});

describe('corrupt and truncated files are refused with one line naming the file', () => {
  const good = (): Uint8Array => safetensorsBytes([f32('a', [2], [1, 2]), f32('b', [1], [3])]);
  const cases: Array<[string, () => Uint8Array, RegExp]> = [
    ['shorter than 8 bytes', () => new Uint8Array(5), /not a safetensors file \(5 bytes/],
    ['header length past the end', () => { const b = good(); new DataView(b.buffer).setBigUint64(0, 10_000n, true); return b; }, /header length 10000 runs past the end of the file/],
    ['header length above 100 MB', () => { const b = good(); new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true); return b; }, /exceeds 100000000 bytes/],
    ['header length 0', () => { const b = good(); new DataView(b.buffer).setBigUint64(0, 0n, true); return b; }, /header length 0 is too small/],
    ['header not JSON', () => safetensorsBytes([f32('a', [1], [1])], { header: () => ({}) }).map((x, i) => (i === 8 ? 0x78 : x)), /does not start with a JSON object/],
    ['unknown dtype', () => safetensorsBytes([{ ...f32('a', [1], [1]), dtype: 'F17' }]), /tensor 'a' has unknown dtype "F17"/],
    ['shape not integers', () => safetensorsBytes([f32('a', [1], [1])], { header: (h) => ({ ...h, a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }) }), /tensor 'a' has a shape that is not a list of non-negative integers/],
    ['size does not match shape', () => safetensorsBytes([{ ...f32('a', [2], [1, 2]), shape: [3] }]), /tensor 'a' \(F32 \[3\]\) needs 12 bytes but data_offsets \[0, 8\] hold 8/],
    ['overlapping tensors', () => safetensorsBytes([f32('a', [2], [1, 2])], { header: (h) => ({ ...h, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }) }), /overlaps the tensor before it/],
    ['gap between tensors', () => safetensorsBytes([f32('a', [1], [1]), f32('pad', [1], [0]), f32('b', [1], [2])], { header: (h) => { const { pad: _pad, ...rest } = h; return rest; } }), /gap in the data buffer before tensor 'b'/],
    ['trailing bytes', () => safetensorsBytes([f32('a', [1], [1])], { trailing: 4 }), /the data buffer has 8 bytes but the tensors cover 4/],
    ['truncated data', () => good().slice(0, -2), /tensor 'b' ends at byte 12 of the data buffer, past the end of the file \(10 bytes of data\): truncated/],
    ['metadata not strings', () => safetensorsBytes([f32('a', [1], [1])], { metadata: { n: 1 as unknown as string } }), /__metadata__\.n is not a string/],
  ];
  it.each(cases)('%s', async (_, bytes, message) => {
    const path = join(dir, 'bad.safetensors');
    writeFileSync(path, bytes());
    const msg = await importErrorOf(SafetensorsFile.open(path));
    expect(msg.startsWith(`${path}: `)).toBe(true);
    expect(msg).toMatch(message);
  });

  it('a well-formed file opens (the corruptions above are the only difference)', async () => {
    const path = join(dir, 'good.safetensors');
    writeFileSync(path, good());
    expect(Array.from(await readAll(path, 'b'))).toEqual([3]);
  });
});

describe('checkpoint directories', () => {
  function sharded(): void {
    writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), [f32('x.weight', [2], [1, 2])]);
    writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), [u16('y.weight', 'BF16', [1], [0x3f80]), f32('z.bias', [1], [5])]);
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 14 }, weight_map: {
      'x.weight': 'model-00001-of-00002.safetensors', 'y.weight': 'model-00002-of-00002.safetensors', 'z.bias': 'model-00002-of-00002.safetensors' } }));
  }

  it('reads a single model.safetensors', async () => {
    writeSafetensors(join(dir, 'model.safetensors'), [f32('w', [1, 2], [7, 8])]);
    const c = await SafetensorsCheckpoint.open(dir);
    expect(c.names()).toEqual(['w']);
    expect(Array.from(await c.readFloat32('w'))).toEqual([7, 8]);
    expect(await importErrorOf(c.readFloat32('nope'))).toMatch(/model\.safetensors: no tensor named 'nope'/);
    await c.close();
  });

  it('reads sharded weights through model.safetensors.index.json', async () => {
    sharded();
    const c = await SafetensorsCheckpoint.open(dir);
    expect(c.names().sort()).toEqual(['x.weight', 'y.weight', 'z.bias']);
    expect(Array.from(await c.readFloat32('y.weight'))).toEqual([1]);
    expect(c.entry('z.bias').file).toBe(join(dir, 'model-00002-of-00002.safetensors'));
    await c.close();
  });

  it('refuses a missing shard, a tensor its shard lacks, a shard outside the directory, and no weights at all', async () => {
    const index = join(dir, 'model.safetensors.index.json');
    expect(await importErrorOf(SafetensorsCheckpoint.open(dir))).toBe(`${dir}: no model.safetensors or model.safetensors.index.json (only safetensors weights are read)`);
    sharded();
    const map = JSON.parse(readFileSync(index, 'utf8')) as { weight_map: Record<string, string> };
    writeFileSync(index, JSON.stringify({ weight_map: { ...map.weight_map, 'q.weight': 'model-00001-of-00002.safetensors' } }));
    expect(await importErrorOf(SafetensorsCheckpoint.open(dir))).toBe(`${index}: tensor 'q.weight' is listed in "model-00001-of-00002.safetensors" but that file has no such tensor`);
    writeFileSync(index, JSON.stringify({ weight_map: { ...map.weight_map, 'q.weight': 'model-00003-of-00003.safetensors' } }));
    expect(await importErrorOf(SafetensorsCheckpoint.open(dir))).toMatch(/shard "model-00003-of-00003\.safetensors" does not exist/);
    mkdirSync(join(dir, 'sub'));
    writeSafetensors(join(dir, 'outside.safetensors'), [f32('q.weight', [1], [0])]);
    writeFileSync(join(dir, 'sub', 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'q.weight': '../outside.safetensors' } }));
    expect(await importErrorOf(SafetensorsCheckpoint.open(join(dir, 'sub')))).toMatch(/shard "\.\.\/outside\.safetensors" \(of tensor 'q\.weight'\) is outside the checkpoint directory/);
    writeFileSync(index, '{"weight_map": ');
    expect(await importErrorOf(SafetensorsCheckpoint.open(dir))).toMatch(/model\.safetensors\.index\.json: cannot read the index as JSON/);
  });
});
