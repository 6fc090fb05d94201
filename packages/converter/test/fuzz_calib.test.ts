/**
 * Issue 6 §2: property-based fuzzing of calibration sets (manifest.jsonl + PNGs). A valid set is
 * damaged by fast-check (lines deleted, duplicated, replaced, edited as JSON, text cut or
 * overwritten, image paths that escape or point at nothing, corrupt or cut images, unknown words,
 * odd --samples). loadCalibration must succeed with well-formed samples or throw a
 * ConversionError naming the manifest or the image; never another exception, never a hang, and
 * the directory must be unchanged.
 */
import * as path from 'node:path';
import fc from 'fast-check';
import { Jimp } from 'jimp';
import { loadCalibration, wordLevelCalibInputs, ConversionError, type MbqJson } from '@tfjs-mbq/converter';
import {
  applyEdit, damage, expectSuccessOrTypedError, fuzzParams, jsonEdit, removeCase, snapshot, textDamage, writeCase,
  type FileSet, type Json, type JsonEdit, type TextDamage,
} from './fuzz_util.js';

const SIZE = 12;
const MBQ: MbqJson = { imageTokenCount: 4, imageTokenOffset: 1, imageTokenId: 3, bosTokenId: 1, eosTokenId: 2, imageSize: [SIZE, SIZE] };
const MAX_SEQ = 40;
const LINES: Json[] = [
  { image: '000.png', question: 'what color is the circle ?', answer: 'red', type: 'color' },
  { image: '001.png', caption: 'a small blue square at the top left .' },
  { image: 'sub/002.png', question: 'how many squares are there ?', answer: 'two', type: 'count' },
  { image: '003.png', caption: 'a large green triangle .' },
];
const WORDS = [...new Set(LINES.flatMap((l) => Object.entries(l as Record<string, string>)
  .filter(([k]) => k === 'question' || k === 'answer' || k === 'caption').flatMap(([, v]) => v.split(' '))))];
const TOKENIZER_JSON = {
  model: { type: 'WordLevel', vocab: Object.fromEntries([['<pad>', 0], ['<bos>', 1], ['<eos>', 2], ['<image>', 3], ...WORDS.map((w, i) => [w, 4 + i])]), unk_token: '<unk>' },
  normalizer: { type: 'Lowercase' },
  pre_tokenizer: { type: 'Whitespace' },
};
const inputs = wordLevelCalibInputs(TOKENIZER_JSON, 'tokenizer.json', MBQ, MAX_SEQ);
const vocabSize = inputs.prompter.tokenizer.vocabSize;

let base: FileSet;
let png: Buffer;

async function makePng(seed: number, size = SIZE): Promise<Buffer> {
  const img = new Jimp({ width: size, height: size, color: 0x000000ff });
  for (let i = 0; i < size * size * 4; i++) img.bitmap.data[i] = (i * 37 + seed * 101) % 256;
  return img.getBuffer('image/png');
}

beforeAll(async () => {
  png = await makePng(1);
  base = new Map<string, Buffer | null>([
    ['manifest.jsonl', Buffer.from(LINES.map((l) => JSON.stringify(l)).join('\n') + '\n')],
    ['000.png', png], ['001.png', await makePng(2, 20)], ['sub/002.png', await makePng(3)], ['003.png', await makePng(4)],
  ]);
});

type CalibMutation =
  | { kind: 'lines'; ops: Array<{ op: 'delete' | 'dup' | 'replace' | 'edit'; line: number; text: string; edit: JsonEdit }> }
  | { kind: 'text'; damage: TextDamage }
  | { kind: 'image'; line: number; value: Json }
  | { kind: 'words'; line: number; field: 'question' | 'answer' | 'caption'; value: string }
  | { kind: 'imageFile'; file: number; action: 'delete' | 'dir' | 'empty' | 'damage' | 'garbage' | 'linkSelf'; damage: TextDamage }
  | { kind: 'samples'; samples: number; seed: number }
  | { kind: 'format'; action: 'crlf' | 'bom' | 'noFinalNewline' | 'blankLines' | 'empty' | 'whitespace' | 'longLine' };

const IMAGE_VALUES: Json[] = [
  '../outside.png', '/etc/hostname', '/dev/zero', 'sub/../../outside.png', 'no-such.png', 'sub', '.', '', 'manifest.jsonl',
  'x\u0000.png', 'file:///etc/passwd', 5, null, ['000.png'], { path: '000.png' }, 'SUB/002.png', 'sub/../000.png',
];

const mutationArb: fc.Arbitrary<CalibMutation> = fc.oneof(
  fc.record({
    kind: fc.constant('lines' as const),
    ops: fc.array(fc.record({
      op: fc.constantFrom('delete' as const, 'dup' as const, 'replace' as const, 'edit' as const),
      line: fc.nat({ max: 20 }),
      text: fc.oneof(fc.string({ maxLength: 40 }), fc.json({ maxDepth: 2 }), fc.constantFrom('{', '[]', 'null', '"x"', '{"image": "000.png"}', '{"image":"000.png","caption":""}')),
      edit: jsonEdit,
    }), { minLength: 1, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('text' as const), damage: textDamage }),
  fc.record({ kind: fc.constant('image' as const), line: fc.nat({ max: 3 }), value: fc.oneof(fc.constantFrom(...IMAGE_VALUES), fc.string({ maxLength: 12 }) as fc.Arbitrary<Json>) }),
  fc.record({
    kind: fc.constant('words' as const), line: fc.nat({ max: 3 }), field: fc.constantFrom('question' as const, 'answer' as const, 'caption' as const),
    value: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('', ' ', 'red red red', 'unknownword', 'RED', '?', 'red '.repeat(60), 'ünïcödé ✓', '\n')),
  }),
  fc.record({
    kind: fc.constant('imageFile' as const), file: fc.nat({ max: 3 }),
    action: fc.constantFrom('delete' as const, 'dir' as const, 'empty' as const, 'damage' as const, 'garbage' as const, 'linkSelf' as const),
    damage: textDamage,
  }),
  fc.record({ kind: fc.constant('samples' as const), samples: fc.oneof(fc.integer({ min: -2, max: 10 }), fc.constantFrom(0.5, 1e9, Number.NaN)), seed: fc.nat() }),
  fc.record({ kind: fc.constant('format' as const), action: fc.constantFrom('crlf' as const, 'bom' as const, 'noFinalNewline' as const, 'blankLines' as const, 'empty' as const, 'whitespace' as const, 'longLine' as const) }),
);

const IMAGE_FILES = ['000.png', '001.png', 'sub/002.png', '003.png'];

function applyMutation(m: CalibMutation): { files: FileSet; samples?: number; seed?: number } {
  const files: FileSet = new Map(base);
  let lines = LINES.map((l) => JSON.stringify(l));
  let text: Buffer | null = null;
  const set = (i: number, f: (o: Record<string, Json>) => void): void => {
    const o = JSON.parse(lines[i % lines.length]) as Record<string, Json>;
    f(o);
    lines[i % lines.length] = JSON.stringify(o);
  };
  switch (m.kind) {
    case 'lines':
      for (const o of m.ops) {
        const i = lines.length ? o.line % lines.length : 0;
        if (o.op === 'delete') lines.splice(i, 1);
        else if (o.op === 'dup') lines.splice(i, 0, lines[i] ?? '{}');
        else if (o.op === 'replace') lines[i] = o.text.replace(/\n/g, ' ');
        else if (lines[i] !== undefined) {
          try { lines[i] = JSON.stringify(applyEdit(JSON.parse(lines[i]) as Json, o.edit)) ?? ''; } catch { /* an earlier replace left a non-JSON line */ }
        }
      }
      break;
    case 'text': text = damage(base.get('manifest.jsonl') as Buffer, m.damage); break;
    case 'image': set(m.line, (o) => { o.image = m.value; }); break;
    case 'words': set(m.line, (o) => {
      if (m.field === 'caption') { o.caption = m.value; delete o.question; delete o.answer; } else { o[m.field] = m.value; if (o.caption !== undefined) o[m.field === 'question' ? 'answer' : 'question'] = 'red'; delete o.caption; }
    }); break;
    case 'imageFile': {
      const f = IMAGE_FILES[m.file];
      if (m.action === 'delete') files.delete(f);
      else if (m.action === 'dir') files.set(f, null);
      else if (m.action === 'empty') files.set(f, Buffer.alloc(0));
      else if (m.action === 'damage') files.set(f, damage(base.get(f) as Buffer, m.damage));
      else if (m.action === 'garbage') files.set(f, Buffer.from('GIF89a this is not a png at all'));
      else files.set(f, { link: path.basename(f) });
      break;
    }
    case 'samples': return { files, samples: m.samples, seed: m.seed };
    case 'format': {
      const body = lines.join('\n') + '\n';
      text = Buffer.from(
        m.action === 'crlf' ? body.replace(/\n/g, '\r\n')
          : m.action === 'bom' ? `\ufeff${body}`
            : m.action === 'noFinalNewline' ? lines.join('\n')
              : m.action === 'blankLines' ? `\n\n${lines.join('\n\n  \n')}\n\n`
                : m.action === 'empty' ? ''
                  : m.action === 'whitespace' ? ' \n\t\n'
                    : `${JSON.stringify({ image: '000.png', caption: 'red '.repeat(50_000) })}\n`);
      break;
    }
  }
  files.set('manifest.jsonl', text ?? Buffer.from(lines.join('\n') + '\n'));
  return { files };
}

test('the undamaged calibration set loads', async () => {
  const { parent, dir } = await writeCase('calib', base);
  try {
    const set = await loadCalibration(dir, inputs);
    expect(set.samples.length).toBe(LINES.length);
    expect(set.samples[1].pixels.length).toBe(SIZE * SIZE * 3); // 001.png is 20x20: resized
  } finally {
    await removeCase(parent);
  }
});

test('fuzz: damaged calibration sets load well-formed samples or fail with a ConversionError naming the file; input unchanged; no hang', async () => {
  const seen = new Map<string, number>();
  await fc.assert(fc.asyncProperty(mutationArb, async (m) => {
    const { files, samples, seed } = applyMutation(m);
    const { parent, dir } = await writeCase('calib', files, new Map([['outside.png', png]]));
    try {
      const before = await snapshot(parent);
      const what = JSON.stringify(m).slice(0, 300);
      const r = await expectSuccessOrTypedError(
        () => loadCalibration(dir, inputs, { samples, seed }), parent, what, { allowOption: m.kind === 'samples' });
      if (r.ok) {
        expect(r.value.samples.length).toBeGreaterThan(0);
        for (const s of r.value.samples) {
          expect(s.inputIds.length).toBeLessThanOrEqual(MAX_SEQ);
          expect(s.visionMask.length).toBe(s.inputIds.length);
          expect(s.captionMask.length).toBe(s.inputIds.length);
          expect(s.pixels.length).toBe(SIZE * SIZE * 3);
          expect(s.pixels.every((v) => v >= 0 && v <= 1)).toBe(true);
          expect(Array.from(s.inputIds).every((id) => id >= 0 && id < vocabSize)).toBe(true);
        }
      }
      const outcome = r.ok ? 'loaded' : r.error.code;
      seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
      expect(await snapshot(parent)).toBe(before);
    } finally {
      await removeCase(parent);
    }
  }), fuzzParams(200));
  expect(seen.get('loaded') ?? 0).toBeGreaterThan(0);
  expect([...seen.keys()].filter((k) => k !== 'loaded').length).toBeGreaterThan(1);
  console.log('calibration fuzz outcomes', Object.fromEntries(seen));
}, 120_000);

test('regression guard: an image path escaping the calibration directory is refused even when the file exists', async () => {
  const lines = [JSON.stringify({ image: '../outside.png', caption: 'red' })];
  const { parent, dir } = await writeCase('calib', new Map([['manifest.jsonl', Buffer.from(lines.join('\n'))]]), new Map([['outside.png', png]]));
  try {
    await expect(loadCalibration(dir, inputs)).rejects.toMatchObject({ code: 'CALIB_MANIFEST' });
    await expect(loadCalibration(dir, inputs)).rejects.toBeInstanceOf(ConversionError);
  } finally {
    await removeCase(parent);
  }
});
