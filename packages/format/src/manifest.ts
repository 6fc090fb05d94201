/**
 * Calibration / evaluation manifests (`manifest.jsonl`, docs/architecture.md): one JSON object a
 * line, a question `{ image, question, answer, type? }` or a caption `{ image, caption }`. One
 * reader for calibration and evaluation, so both read a line the same way.
 */
import { FormatError } from './errors.js';
import { relativePathProblem } from './paths.js';

export interface QuestionItem {
  kind: 'question';
  /** 1-based line of the manifest, for messages. */
  line: number;
  image: string;
  question: string;
  answer: string;
  /** Question type for per-type accuracy (`unknown` when the line has none). */
  type: string;
}

export interface CaptionItem {
  kind: 'caption';
  line: number;
  image: string;
  caption: string;
}

export type ManifestItem = QuestionItem | CaptionItem;

/**
 * Parses manifest text read from `file`. Every line names an image inside the data directory and
 * is either a question with its answer or a caption; a line with both is ambiguous and refused.
 */
export function parseManifest(text: string, file: string): ManifestItem[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a UTF-8 byte order mark some editors write
  const items: ManifestItem[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const where = `${file}:${line}`;
    const bad = (msg: string): never => { throw new FormatError('MANIFEST', `${where}: ${msg}`, file); };
    if (raw.trim() === '') return;
    let o: unknown;
    try {
      o = JSON.parse(raw);
    } catch (e) {
      bad(`malformed JSON (${(e as Error).message})`);
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return bad('expected a JSON object');
    const obj = o as Record<string, unknown>;
    const str = (k: string): string | undefined => (typeof obj[k] === 'string' ? (obj[k] as string) : undefined);
    const image = str('image');
    if (!image) return bad('expected a string "image"');
    const problem = relativePathProblem(image);
    if (problem !== undefined) bad(`image path "${image}" ${problem}; images must lie inside the data directory`);
    const question = str('question');
    const answer = str('answer');
    const caption = str('caption');
    const isQuestion = question !== undefined && answer !== undefined;
    if (isQuestion && caption !== undefined) bad('has both "caption" and "question"/"answer"; give one per line');
    if (isQuestion) items.push({ kind: 'question', line, image, question, answer, type: str('type') ?? 'unknown' });
    else if (caption !== undefined) items.push({ kind: 'caption', line, image, caption });
    else bad('expected "question" and "answer" strings, or a "caption" string');
  });
  return items;
}
