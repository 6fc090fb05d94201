/**
 * Issue 16: the search result is an artifact. A conversion with `saveSearch` writes it; a later
 * conversion with `applySearch` applies it without searching (no sensitivity pass, no candidate
 * search) and writes output byte-identical to the searching run's, with and without --rotate.
 * A file that does not fit this model, calibration and options is refused with one line naming it
 * and the problem, before any output is written.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { convert, ConversionError, type ConvertOptions, type ProgressEvent } from '@tfjs-mbq/converter';

const FIXTURE = join(process.cwd(), 'fixtures/tiny-vlm');
const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');
const root = mkdtempSync(join(tmpdir(), 'mbq-search-file-'));
const base = (name: string, o: Partial<ConvertOptions> = {}): ConvertOptions => ({ modelDir: FIXTURE, calibDir: CALIB, outDir: join(root, name), samples: 2, seed: 1, gridSize: 4, ...o });

beforeAll(async () => { await initBackend('cpu'); });
afterAll(() => rmSync(root, { recursive: true, force: true }));

function expectIdentical(a: string, b: string): void {
  const files = readdirSync(a).sort();
  expect(files).toEqual(expect.arrayContaining(['model.json', 'quantization.json', 'report.html']));
  expect(readdirSync(b).sort()).toEqual(files);
  for (const f of files) {
    if (!readFileSync(join(a, f)).equals(readFileSync(join(b, f)))) throw new Error(`${f} differs between ${a} and ${b}`);
  }
}

function stages(events: ProgressEvent[]): string[] {
  return [...new Set(events.map((e) => e.stage))];
}

test('mbq: saved search re-applied without searching gives byte-identical output; other inputs and damaged files are refused', async () => {
  const file = join(root, 'searches', 'mbq.json');
  await convert(base('searched', { saveSearch: file }));
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { format: string; version: number; backend: string; sensitivity: unknown; groups: Array<{ scales: number[] }> };
  expect([saved.format, saved.version, saved.backend]).toEqual(['tfjs-mbq-search', 1, 'cpu']);
  expect(saved.sensitivity).not.toBeNull();
  const q = JSON.parse(readFileSync(join(root, 'searched', 'quantization.json'), 'utf8')) as { groups: unknown };
  expect(saved.groups).toEqual(q.groups);
  expect(readdirSync(join(root, 'searches'))).toEqual(['mbq.json']); // no temporary file left

  const events: ProgressEvent[] = [];
  await convert(base('applied', { applySearch: file, onProgress: (e) => events.push(e) }));
  expect(stages(events)).toEqual(['load', 'calibrate', 'search', 'quantize', 'evaluate', 'emit']);
  const details = events.filter((e) => e.stage === 'search' && e.detail).map((e) => e.detail!);
  expect(details).toHaveLength(saved.groups.length);
  expect(details.every((d) => d.endsWith('(from the search file)'))).toBe(true);
  expectIdentical(join(root, 'searched'), join(root, 'applied'));

  // Other options, another calibration selection: refused naming the file and the first difference, nothing written.
  const refused = (name: string, o: Partial<ConvertOptions>): Promise<unknown> => convert(base(name, { applySearch: file, ...o }));
  await expect(refused('bits', { wBits: 4 })).rejects.toThrow(/^--apply-search .*mbq\.json: it holds the search of a conversion with other inputs \(inputs\.options\.wBits: 3 vs 4\)/);
  await expect(refused('seed', { seed: 2 })).rejects.toThrow(/other inputs \((inputs\.calibrationSha256|inputs\.options\.seed): /);
  expect(existsSync(join(root, 'bits'))).toBe(false);

  // Damaged files: each problem named.
  const damaged = (name: string, edit: (v: Record<string, any>) => void): string => {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;
    edit(v);
    const p = join(root, 'searches', name);
    writeFileSync(p, JSON.stringify(v));
    return p;
  };
  const cases: Array<[string, string, RegExp]> = [
    [damaged('short.json', (v) => v.groups[1].scales.pop()), 'short', /short\.json: groups\[1\]\.scales must hold \d+ finite numbers \(K of /],
    [damaged('negative.json', (v) => { v.groups[2].scales[3] = -1; }), 'negative', /negative\.json: groups\[2\]\.scales\[3\] is -1; scales must be positive/],
    [damaged('order.json', (v) => { [v.groups[0], v.groups[1]] = [v.groups[1], v.groups[0]]; }), 'order', /order\.json: groups\[0\] is block 0 group "mlp-in"; this model's is block 0 group attn-in/],
    [damaged('version.json', (v) => { v.version = 2; }), 'version', /version\.json: version 2 is not supported/],
    [damaged('nosens.json', (v) => { v.sensitivity = null; }), 'nosens', /nosens\.json: "sensitivity" must be an object for --method mbq/],
    [damaged('fold.json', (v) => { v.groups[0].fold = 'insert'; }), 'fold', /fold\.json: groups\[0\]\.fold is "insert"; this model folds group attn-in as "gamma"/],
  ];
  writeFileSync(join(root, 'searches', 'text.json'), 'not json');
  cases.push([join(root, 'searches', 'text.json'), 'text', /text\.json: not valid JSON/]);
  cases.push([join(root, 'searches', 'missing.json'), 'missing', /missing\.json: cannot read it/]);
  for (const [p, name, message] of cases) {
    const r = convert(base(name, { applySearch: p }));
    await expect(r).rejects.toBeInstanceOf(ConversionError);
    await expect(r).rejects.toThrow(message);
    expect(existsSync(join(root, name))).toBe(false);
  }
}, 900_000);

test('awq with --rotate: the rotation is made again from the seed and the saved scales applied on it, output byte-identical', async () => {
  const file = join(root, 'awq-rotate.json');
  const o = { method: 'awq' as const, wBits: 4, rotate: true, gridSize: 2 };
  await convert(base('rot-searched', { ...o, saveSearch: file }));
  expect(JSON.parse(readFileSync(file, 'utf8')).sensitivity).toBeNull();
  const events: ProgressEvent[] = [];
  await convert(base('rot-applied', { ...o, applySearch: file, onProgress: (e) => events.push(e) }));
  expect(stages(events)).toEqual(['load', 'calibrate', 'rotate', 'search', 'quantize', 'evaluate', 'emit']);
  expectIdentical(join(root, 'rot-searched'), join(root, 'rot-applied'));
  // Without --rotate the same file does not fit.
  await expect(convert(base('rot-off', { ...o, rotate: false, applySearch: file }))).rejects.toThrow(/other inputs \(inputs\.options\.rotate: true vs false\)/);
}, 900_000);

test('option combinations and paths are refused before anything is loaded', async () => {
  await expect(convert(base('both', { saveSearch: join(root, 'a.json'), applySearch: join(root, 'b.json') }))).rejects.toThrow(/^--save-search with --apply-search: /);
  await expect(convert(base('work', { workDir: join(root, 'w'), applySearch: join(root, 'b.json') }))).rejects.toThrow(/^--work-dir with --apply-search: /);
  await expect(convert(base('inside', { saveSearch: join(root, 'inside', 's.json') }))).rejects.toThrow(/^--save-search .*s\.json is inside the output directory /);
  await expect(convert(base('in-model', { saveSearch: join(FIXTURE, 's.json') }))).rejects.toThrow(/^--save-search .*s\.json is inside the input directory /);
});
