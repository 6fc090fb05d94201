/**
 * '#local-source' outside Node (package.json `imports`, condition `default`): there is no file
 * system to read a model directory from; a browser or worker loads models by URL (fetch).
 */
import type { FileSource } from '@tfjs-mbq/format';

export function localSource(dir: string): FileSource {
  throw new Error(`${dir}: a model directory on disk can be read only in Node; in a browser, load the model by URL`);
}
