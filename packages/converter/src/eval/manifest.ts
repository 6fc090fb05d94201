/** Reads a shapes-vqa style manifest.jsonl (docs/architecture.md, "manifests"). */
import { isAbsolute, join, normalize } from 'node:path';
import { InputFileError, readRegularFile } from '../io/input_file.js';
import { MANIFEST_MAX_BYTES } from '../calib/load.js';

export interface QuestionItem {
  kind: 'question';
  image: string;
  question: string;
  answer: string;
  type: string;
}

export interface CaptionItem {
  kind: 'caption';
  image: string;
  caption: string;
}

export type ManifestItem = QuestionItem | CaptionItem;

export async function readManifest(dataDir: string): Promise<ManifestItem[]> {
  const file = join(dataDir, 'manifest.jsonl');
  let text: string;
  try {
    text = (await readRegularFile(file, MANIFEST_MAX_BYTES)).toString('utf8');
  } catch (e) {
    if (!(e instanceof InputFileError)) throw e;
    throw new Error(`${file}: cannot read manifest (${e.reason})`);
  }
  const items: ManifestItem[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${file}:${i + 1}: invalid JSON: ${(e as Error).message}`);
    }
    const str = (k: string): string | undefined => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
    const image = str('image');
    if (!image) throw new Error(`${file}:${i + 1}: missing "image"`);
    // Symbolic links are followed and checked when the image is read (loadImagePixels).
    if (isAbsolute(image) || normalize(image).split(/[\\/]/)[0] === '..') throw new Error(`${file}:${i + 1}: image path "${image}" escapes the data directory`);
    const question = str('question');
    const answer = str('answer');
    const caption = str('caption');
    if (question !== undefined && answer !== undefined) items.push({ kind: 'question', image, question, answer, type: str('type') ?? 'unknown' });
    else if (caption !== undefined) items.push({ kind: 'caption', image, caption });
    else throw new Error(`${file}:${i + 1}: expected "question" and "answer", or "caption"`);
  });
  return items;
}
