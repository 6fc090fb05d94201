/**
 * Answers of another implementation of the same model (e.g. transformers' PyTorch run that trained
 * it) to compare an evaluation's answers with: `tfjs-mbq eval --reference <file>`. The file is a
 * JSON array of `{ image, question, prediction, margins }`, `margins` being the reference's top-1
 * minus top-2 logit at each greedy step (fixtures/llava-shapes/eval_predictions.json is one).
 */
import { MAX_JSON_BYTES, SourceReadError } from '@tfjs-mbq/format';
import { readRegularFile } from '@tfjs-mbq/format/node';
import { normalizeAnswer } from './answer.js';
import type { Prediction } from './evaluate.js';

export interface ReferenceAnswer {
  image: string;
  question: string;
  prediction: string;
  /** Top-1 minus top-2 logit at each generated token of the reference's greedy answer. */
  margins: number[];
}

/** A question answered differently from the reference. */
export interface AnswerDifference {
  image: string;
  question: string;
  type: string;
  answer: string;
  prediction: string;
  reference: string;
  /** The smallest top-2 logit margin along the reference's greedy path: how close it was to flipping. */
  referenceMargin: number;
}

export interface ReferenceComparison {
  compared: number;
  same: number;
  /** Accuracy of the reference's answers on the compared questions (exact match, as `evaluate`). */
  referenceAccuracy: number;
  differing: AnswerDifference[];
}

const key = (image: string, question: string): string => `${image}\u0000${question}`;

/** Parses reference answers; `source` names the file in errors. Throws on anything malformed or duplicated. */
export function parseReference(text: string, source: string): Map<string, ReferenceAnswer> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`${source}: reference answers are not valid JSON`);
  }
  if (!Array.isArray(data)) throw new Error(`${source}: reference answers must be a JSON array of { image, question, prediction, margins }`);
  const out = new Map<string, ReferenceAnswer>();
  data.forEach((e: unknown, i) => {
    const r = e as Partial<Record<keyof ReferenceAnswer, unknown>> | null;
    const ok = r !== null && typeof r === 'object' && typeof r.image === 'string' && typeof r.question === 'string' &&
      typeof r.prediction === 'string' && Array.isArray(r.margins) && r.margins.every((m) => typeof m === 'number' && Number.isFinite(m));
    if (!ok) throw new Error(`${source}: entry ${i} is not { image, question, prediction, margins: number[] }`);
    const a = r as ReferenceAnswer;
    const k = key(a.image, a.question);
    if (out.has(k)) throw new Error(`${source}: entry ${i} repeats ${a.image} "${a.question}"`);
    out.set(k, { image: a.image, question: a.question, prediction: a.prediction, margins: a.margins });
  });
  return out;
}

export async function readReference(path: string): Promise<Map<string, ReferenceAnswer>> {
  let text: string;
  try {
    // A regular file of bounded size: a FIFO would block the evaluation, /dev/zero fill memory.
    text = new TextDecoder().decode(await readRegularFile(path, MAX_JSON_BYTES));
  } catch (e) {
    if (!(e instanceof SourceReadError)) throw e;
    throw new Error(`${path}: cannot read the reference answers (${e.message.replace(`${path}: `, '')})`);
  }
  return parseReference(text, path);
}

/** Every prediction against the reference's answer to the same (image, question); a question the reference lacks is an error. */
export function compareWithReference(predictions: readonly Prediction[], reference: ReadonlyMap<string, ReferenceAnswer>, source: string): ReferenceComparison {
  const differing: AnswerDifference[] = [];
  let same = 0;
  let referenceCorrect = 0;
  for (const p of predictions) {
    const r = reference.get(key(p.image, p.question));
    if (!r) throw new Error(`${source}: no reference answer for ${p.image} "${p.question}"`);
    if (normalizeAnswer(r.prediction) === normalizeAnswer(p.answer)) referenceCorrect++;
    if (normalizeAnswer(r.prediction) === normalizeAnswer(p.prediction)) {
      same++;
      continue;
    }
    differing.push({
      image: p.image, question: p.question, type: p.type, answer: p.answer, prediction: p.prediction, reference: r.prediction,
      referenceMargin: r.margins.length ? Math.min(...r.margins) : NaN,
    });
  }
  const compared = predictions.length;
  return { compared, same, referenceAccuracy: compared ? referenceCorrect / compared : NaN, differing };
}

/** Text lines: agreement, both accuracies, and each differing question with the margin that flipped. */
export function formatReferenceComparison(c: ReferenceComparison, accuracy: number): string {
  const lines = [
    `same answer as the reference: ${c.same}/${c.compared}; accuracy ${(100 * accuracy).toFixed(2)}% here, ${(100 * c.referenceAccuracy).toFixed(2)}% the reference's`,
  ];
  for (const d of c.differing) {
    lines.push(`  differs: ${d.image} "${d.question}" (${d.type}, answer "${d.answer}"): "${d.prediction}" here, "${d.reference}" in the reference, whose smallest top-2 logit margin was ${d.referenceMargin.toPrecision(3)}`);
  }
  return lines.join('\n');
}
