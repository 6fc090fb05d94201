/**
 * Issue 13 §3: the calibration masks are the reference's (docs/algorithm.md §2). On a hand-built
 * manifest the caption mask marks the supervised tokens themselves (answer or caption tokens and
 * EOS, the reference's `labels != -100`), not the positions one earlier that predict them; the
 * sensitivity loss reads each one's logits one position earlier.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Jimp } from 'jimp';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { loadCalibration, loadTokenizer, type MbqJson } from '@tfjs-mbq/converter';
import { captionCrossEntropy } from '../src/sensitivity/index.js';

// <pad> 0, <bos> 1, <eos> 2, <image> 3, then the words.
const WORDS = ['what', 'color', '?', 'red', 'a', 'circle', '.'];
const TOKENIZER = loadTokenizer({
  model: { type: 'WordLevel', vocab: Object.fromEntries([['<pad>', 0], ['<bos>', 1], ['<eos>', 2], ['<image>', 3], ...WORDS.map((w, i) => [w, 4 + i])]), unk_token: '<unk>' },
  normalizer: { type: 'Lowercase' },
  pre_tokenizer: { type: 'Whitespace' },
}, 'tokenizer.json');
const MBQ: MbqJson = { imageTokenCount: 2, imageTokenOffset: 1, imageTokenId: 3, bosTokenId: 1, eosTokenId: 2, imageSize: [4, 4] };

let dir: string;
beforeAll(async () => {
  await initBackend('cpu');
  dir = await mkdtemp(path.join(tmpdir(), 'calib-masks-'));
  await writeFile(path.join(dir, 'a.png'), await new Jimp({ width: 4, height: 4, color: 0x102030ff }).getBuffer('image/png'));
  await writeFile(path.join(dir, 'manifest.jsonl'), [
    { image: 'a.png', question: 'what color ?', answer: 'red' },
    { image: 'a.png', caption: 'a red circle .' },
  ].map((l) => JSON.stringify(l)).join('\n') + '\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('calibration masks (docs/algorithm.md §2)', () => {
  it('mark the image tokens and the supervised tokens themselves, EOS included', async () => {
    const set = await loadCalibration(dir, TOKENIZER, MBQ);
    const [question, caption] = set.samples;
    //                                        bos img img what color ?  red eos
    expect(Array.from(question!.inputIds)).toEqual([1, 3, 3, 4, 5, 6, 7, 2]);
    expect(Array.from(question!.visionMask)).toEqual([0, 1, 1, 0, 0, 0, 0, 0]);
    expect(Array.from(question!.captionMask)).toEqual([0, 0, 0, 0, 0, 0, 1, 1]);
    //                                       bos img img a  red circle . eos
    expect(Array.from(caption!.inputIds)).toEqual([1, 3, 3, 8, 7, 9, 10, 2]);
    expect(Array.from(caption!.visionMask)).toEqual([0, 1, 1, 0, 0, 0, 0, 0]);
    expect(Array.from(caption!.captionMask)).toEqual([0, 0, 0, 1, 1, 1, 1, 1]);
  });

  it('the sensitivity loss takes the caption tokens from the logits one position earlier', async () => {
    const [question] = (await loadCalibration(dir, TOKENIZER, MBQ)).samples;
    const ids = Array.from(question!.inputIds);
    const vocab = 11;
    const logits = Array.from({ length: ids.length }, (_, p) => Array.from({ length: vocab }, (_, v) => Math.sin(3 * p + v)));
    const ce = (p: number, t: number): number => Math.log(logits[p]!.reduce((a, x) => a + Math.exp(x), 0)) - logits[p]![t]!;
    // "red" (position 6) is predicted at position 5 ("?"), EOS (position 7) at position 6.
    const expected = (ce(5, 7) + ce(6, 2)) / 2;
    const got = tf.tidy(() => captionCrossEntropy(tf.tensor2d(logits), ids, question!.captionMask).dataSync()[0]!);
    expect(Math.abs(got - expected)).toBeLessThan(1e-6 * Math.abs(expected));
  });
});
