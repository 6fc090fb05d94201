/** mbq.json, manifests and the MbqQuantizedMatMul node: one schema each, errors naming file and field. */
import {
  checkMbqAgainstModel, decodeQuantizedMatMulAttrs, encodeQuantizedMatMulAttrs, groupsPerRow, parseManifest, parseMbqJson,
  quantizedMatMulAttrsOfJson, validateModelJson, wordsPerRow, MBQ_QUANTIZED_MATMUL_OP,
} from '@tfjs-mbq/format';
import { modelJson } from './helpers.js';

const MBQ = { imageTokenCount: 64, imageTokenOffset: 1, imageTokenId: 4, bosTokenId: 2, eosTokenId: 3, padTokenId: 0, imageSize: [64, 64] };
const CONFIG = { image_seq_length: 64, vision_config: { image_size: 64, patch_size: 8 }, text_config: { vocab_size: 51, max_position_embeddings: 128 } };

describe('mbq.json (§5: checked at load, naming file and field)', () => {
  test('the fixture layout parses; unknown fields are kept', () => {
    expect(parseMbqJson({ ...MBQ, imageProcessor: { size: 64 } }, 'm/mbq.json')).toMatchObject({ ...MBQ, imageProcessor: { size: 64 } });
  });
  test.each([
    [{ ...MBQ, bosTokenId: 2.5 }, /m\/mbq\.json: "bosTokenId" must be an integer >= 0, got 2.5/],
    [{ ...MBQ, eosTokenId: '3' }, /"eosTokenId" must be an integer >= 0, got "3"/],
    [{ ...MBQ, imageTokenCount: 0 }, /"imageTokenCount" must be an integer >= 1, got 0/],
    [{ ...MBQ, imageTokenOffset: -1 }, /"imageTokenOffset" must be an integer >= 0, got -1/],
    [{ ...MBQ, imageSize: [64, -64] }, /"imageSize" must be \[H, W\] of positive integers, got \[64,-64\]/],
    [{ ...MBQ, imageSize: [64] }, /"imageSize" must be \[H, W\]/],
    [{ ...MBQ, padTokenId: null }, /"padTokenId" must be an integer >= 0, got null/],
    [[1, 2], /m\/mbq\.json: expected a JSON object/],
  ])('%j is refused', (raw, msg) => {
    expect(() => parseMbqJson(raw, 'm/mbq.json')).toThrow(msg);
  });
  test('ids outside the vocabulary, an image-token count that does not fit the image, a missing config are refused', () => {
    const check = (mbq: object, config: unknown = CONFIG, vocab?: number): void => checkMbqAgainstModel(parseMbqJson(mbq, 'm/mbq.json'), 'm/mbq.json', config, 'm/config.json', vocab);
    expect(() => check(MBQ)).not.toThrow();
    expect(() => check({ ...MBQ, eosTokenId: 51 })).toThrow('m/mbq.json: "eosTokenId" is 51, outside the vocabulary of 51 tokens');
    expect(() => check({ ...MBQ, imageTokenId: 40 }, CONFIG, 40)).toThrow(/"imageTokenId" is 40, outside the vocabulary of 40 tokens/);
    expect(() => check({ ...MBQ, imageTokenCount: 16 })).toThrow(/"imageTokenCount" is 16 but m\/config\.json says "image_seq_length": 64/);
    expect(() => check({ ...MBQ, imageTokenCount: 16 }, { ...CONFIG, image_seq_length: undefined })).toThrow(/"imageTokenCount" is 16 but a 64x64 image in 8-pixel patches \(m\/config\.json\) gives 64/);
    expect(() => check({ ...MBQ, imageSize: [32, 32] })).toThrow(/"imageSize" is \[32,32\] but m\/config\.json says vision_config.image_size 64/);
    expect(() => check(MBQ, { text_config: { max_position_embeddings: 60 } })).toThrow(/image tokens end at position 65, past the model's 60 positions/);
    expect(() => check(MBQ, null)).toThrow('m/config.json: expected a JSON object');
  });
});

describe('manifests: one reader for calibration and evaluation', () => {
  test('questions and captions, with line numbers; a byte order mark and blank lines are fine', () => {
    const text = '\ufeff{"image":"a.png","question":"q?","answer":"red","type":"color"}\n\n{"image":"b.png","caption":"a red circle"}\n';
    expect(parseManifest(text, 'd/manifest.jsonl')).toEqual([
      { kind: 'question', line: 1, image: 'a.png', question: 'q?', answer: 'red', type: 'color' },
      { kind: 'caption', line: 3, image: 'b.png', caption: 'a red circle' },
    ]);
  });
  test.each([
    ['{"image":"a.png","caption":"c","question":"q","answer":"a"}', /d\/manifest\.jsonl:1: has both "caption" and "question"\/"answer"; give one per line/],
    ['{"image":"../x.png","caption":"c"}', /:1: image path "\.\.\/x\.png" climbs out with '\.\.'; images must lie inside the data directory/],
    ['{"image":"%2e%2e/x.png","caption":"c"}', /climbs out/],
    ['{"image":"/etc/x.png","caption":"c"}', /is absolute/],
    ['{"image":"a.png","question":"q"}', /:1: expected "question" and "answer" strings, or a "caption" string/],
    ['{"image":"a.png"', /:1: malformed JSON/],
    ['[1]', /:1: expected a JSON object/],
    ['{"caption":"c"}', /:1: expected a string "image"/],
  ])('%s is refused', (line, msg) => {
    expect(() => parseManifest(`${line}\n`, 'd/manifest.jsonl')).toThrow(msg);
  });
});

describe('MbqQuantizedMatMul node', () => {
  test('packed-row words and groups: hand-computed', () => {
    expect(wordsPerRow(32, 3)).toBe(3); // 96 bits
    expect(wordsPerRow(33, 3)).toBe(4); // 99 bits -> 4 words
    expect(wordsPerRow(8, 4)).toBe(1);
    expect(wordsPerRow(128, 8)).toBe(32);
    expect(groupsPerRow(128, 32)).toBe(4);
    expect(() => groupsPerRow(128, 48)).toThrow(/groupSize must be a positive integer dividing K=128, got 48/);
    for (const b of [1, 9, 2.5]) expect(() => wordsPerRow(8, b)).toThrow(`wordsPerRow: bits must be an integer in [2, 8], got ${b}`);
  });
  test('attributes round-trip through model.json form and tfjs GraphNode form, act_bits only when set', () => {
    const a = { bits: 4, groupSize: 32, inFeatures: 128, actBits: 8 as const };
    const json = encodeQuantizedMatMulAttrs(a);
    expect(JSON.stringify(json)).toBe('{"T":{"type":"DT_FLOAT"},"bits":{"i":"4"},"group_size":{"i":"32"},"in_features":{"i":"128"},"act_bits":{"i":"8"}}');
    expect(quantizedMatMulAttrsOfJson(json, 'n')).toEqual(a);
    expect(encodeQuantizedMatMulAttrs({ ...a, bits: 3, actBits: 0 }).act_bits).toBeUndefined();
    const numbers: Record<string, number> = { bits: 3, group_size: 32, in_features: 128 };
    expect(decodeQuantizedMatMulAttrs((k) => numbers[k], 'n')).toEqual({ bits: 3, groupSize: 32, inFeatures: 128, actBits: 0 });
    expect(MBQ_QUANTIZED_MATMUL_OP).toBe('MbqQuantizedMatMul');
  });
  test.each([
    [{ bits: { i: '9' }, group_size: { i: '2' }, in_features: { i: '4' } }, /node y: bits must be an integer in \[2, 8\], got 9/],
    [{ bits: { i: '4' }, group_size: { i: '3' }, in_features: { i: '4' } }, /groupSize must be a positive integer dividing inFeatures=4, got 3/],
    [{ bits: { i: '4' }, group_size: { i: '2' }, in_features: { i: '4' }, act_bits: { i: '4' } }, /act_bits must be 0 or 8, got 4/],
    [{ bits: { i: '4' }, group_size: { i: '2' } }, /attr 'in_features' must be an integer \(type "i"\), got undefined/],
    [{ bits: { i: '4.5' }, group_size: { i: '2' }, in_features: { i: '4' } }, /attr 'bits' must be an integer/],
    [{ bits: { i: '4' }, group_size: { i: '2' }, in_features: { i: '0' } }, /inFeatures must be a positive integer, got 0/],
  ])('attrs %j are refused', (attr, msg) => {
    expect(() => quantizedMatMulAttrsOfJson(attr, 'node y')).toThrow(msg);
  });
});

describe('validateModelJson', () => {
  test.each([
    [(j: Record<string, unknown>) => { j.format = 'layers-model'; }, /format "layers-model" is not a tfjs graph model.*layers models are not supported/],
    [(j: Record<string, unknown>) => { delete j.weightsManifest; }, /"weightsManifest" must be an array/],
    [(j: { weightsManifest: Array<{ weights: Array<{ dtype: string }> }> }) => { j.weightsManifest[0]!.weights[0]!.dtype = 'string'; }, /weight "w1": unsupported dtype "string"/],
    [(j: { weightsManifest: Array<{ weights: Array<{ shape: number[] }> }> }) => { j.weightsManifest[0]!.weights[0]!.shape = [-1, 3]; }, /shape must be an array of non-negative integers, got \[-1,3\]/],
    [(j: { weightsManifest: Array<{ weights: Array<{ shape: number[] }> }> }) => { j.weightsManifest[0]!.weights[0]!.shape = [3, 2]; }, /Const node "w1" has shape \[2,3\] but its manifest weight has shape \[3,2\]/],
    [(j: { weightsManifest: Array<{ weights: Array<{ name: string }> }> }) => { j.weightsManifest[0]!.weights[1]!.name = 'w1'; }, /weight "w1" is listed twice/],
    [(j: { modelTopology: { node: Array<{ name: string }> } }) => { j.modelTopology.node[3]!.name = 'x'; }, /duplicate node name "x"/],
  ])('damage %# is refused naming model.json', (damage, msg) => {
    const j = JSON.parse(JSON.stringify(modelJson())) as never;
    (damage as (j: never) => void)(j);
    expect(() => validateModelJson(j, 'd/model.json')).toThrow(msg);
    expect(() => validateModelJson(j, 'd/model.json')).toThrow(/^d\/model\.json: /);
  });
});
