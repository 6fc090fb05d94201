/** Reads a data directory's manifest.jsonl with the format's one manifest reader (docs/architecture.md, "manifests"). */
import { join } from 'node:path';
import { parseManifest, type ManifestItem } from '@tfjs-mbq/format';
import { readDataFile } from '@tfjs-mbq/format/node';

export type { ManifestItem, QuestionItem, CaptionItem } from '@tfjs-mbq/format';

export async function readManifest(dataDir: string): Promise<ManifestItem[]> {
  const bytes = await readDataFile(dataDir, 'manifest.jsonl', 'the manifest');
  return parseManifest(new TextDecoder().decode(bytes), join(dataDir, 'manifest.jsonl'));
}
