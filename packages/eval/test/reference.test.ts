/**
 * Comparing an evaluation's answers with another implementation's (`tfjs-mbq eval --reference`):
 * hand-built predictions and references, every branch of agreement, margins and bad input.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareWithReference, formatReferenceComparison, parseReference, readReference, type Prediction } from '@tfjs-mbq/eval';

const REF = 'ref.json';
const reference = parseReference(JSON.stringify([
  { image: 'a.png', question: 'what color is the circle ?', prediction: 'red', margins: [4.5, 20] },
  { image: 'a.png', question: 'where is the red circle ?', prediction: 'top left', margins: [0.0004, 9, 25] },
  { image: 'b.png', question: 'what color is the circle ?', prediction: 'Blue', margins: [2] },
  { image: 'b.png', question: 'is there a red square ?', prediction: 'no', margins: [] },
]), REF);

const pred = (image: string, question: string, answer: string, prediction: string, type = 'color'): Prediction => ({ image, question, answer, prediction, type });

describe('reference answers', () => {
  it('counts agreement after answer normalisation and lists each difference with the smallest margin of the reference path', () => {
    const c = compareWithReference([
      pred('a.png', 'what color is the circle ?', 'red', 'red'),
      pred('a.png', 'where is the red circle ?', 'top left', 'top right', 'position'),
      pred('b.png', 'what color is the circle ?', 'blue', 'blue'), // reference "Blue": same after normalisation
      pred('b.png', 'is there a red square ?', 'yes', 'yes', 'existence'),
    ], reference, REF);
    expect(c.compared).toBe(4);
    expect(c.same).toBe(2);
    // The reference got 3 of 4 right ("no" to the red square is wrong).
    expect(c.referenceAccuracy).toBe(0.75);
    expect(c.differing).toEqual([
      { image: 'a.png', question: 'where is the red circle ?', type: 'position', answer: 'top left', prediction: 'top right', reference: 'top left', referenceMargin: 0.0004 },
      { image: 'b.png', question: 'is there a red square ?', type: 'existence', answer: 'yes', prediction: 'yes', reference: 'no', referenceMargin: NaN },
    ]);
    const text = formatReferenceComparison(c, 1);
    expect(text.split('\n')[0]).toBe('same answer as the reference: 2/4; accuracy 100.00% here, 75.00% the reference\'s');
    expect(text).toContain('a.png "where is the red circle ?" (position, answer "top left"): "top right" here, "top left" in the reference, whose smallest top-2 logit margin was 0.000400');
  });

  it('keys on image and question together, and refuses a question the reference lacks', () => {
    expect(() => compareWithReference([pred('c.png', 'what color is the circle ?', 'red', 'red')], reference, REF))
      .toThrow('ref.json: no reference answer for c.png "what color is the circle ?"');
  });

  it.each([
    ['not JSON', '{', 'ref.json: reference answers are not valid JSON'],
    ['not an array', '{"image": "a.png"}', 'ref.json: reference answers must be a JSON array'],
    ['an entry without margins', '[{"image": "a.png", "question": "q", "prediction": "p"}]', 'ref.json: entry 0 is not { image, question, prediction, margins: number[] }'],
    ['a non-numeric margin', '[{"image": "a.png", "question": "q", "prediction": "p", "margins": ["1"]}]', 'ref.json: entry 0 is not'],
    ['a repeated question', '[{"image": "a.png", "question": "q", "prediction": "p", "margins": []}, {"image": "a.png", "question": "q", "prediction": "x", "margins": []}]', 'ref.json: entry 1 repeats a.png "q"'],
  ])('refuses %s with one line naming the file', (_name, text, message) => {
    expect(() => parseReference(text, REF)).toThrow(message);
  });
});

// Issue 15 §3: --reference is read as a regular file of bounded size; a FIFO hung eval, /dev/zero read ~600 MB.
test('readReference refuses a FIFO and a device at once, naming the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbq-ref-'));
  try {
    const fifo = join(dir, 'ref.fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(readReference(fifo)).rejects.toThrow(`${fifo}: cannot read the reference answers (is a FIFO, not a regular file)`);
    await expect(readReference('/dev/zero')).rejects.toThrow('/dev/zero: cannot read the reference answers (is a device, not a regular file)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
