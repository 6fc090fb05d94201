// Answers a question about a PNG with a converted VLM:
//   node examples/node/answer.mjs <model-dir> <image.png> <question...>
import { readFile } from 'node:fs/promises';
import { Jimp } from 'jimp';
import { checkImageHeader, loadVlm } from '@tfjs-mbq/runtime';

const [modelDir, imagePath, ...words] = process.argv.slice(2);
if (!modelDir || !imagePath || words.length === 0) {
  console.error('usage: node answer.mjs <model-dir> <image.png> <question...>');
  process.exit(2);
}
// The header's size is checked before decoding: a small PNG can declare gigabytes of pixels.
const bytes = await readFile(imagePath);
const header = checkImageHeader(bytes);
if (typeof header === 'string') {
  console.error(`${imagePath}: ${header}`);
  process.exit(1);
}
const vlm = await loadVlm(modelDir, { backend: process.env.TFJS_BACKEND ?? 'auto' });
const image = await Jimp.read(bytes);
console.log(await vlm.answer(image, words.join(' '), { maxNewTokens: 16 }));
console.error(`backend: ${vlm.backend}, decoding: ${vlm.decoding}`);
