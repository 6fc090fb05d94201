// Answers a question about a PNG with a converted VLM:
//   node examples/node/answer.mjs <model-dir> <image.png> <question...>
import { Jimp } from 'jimp';
import { loadVlm } from '@tfjs-mbq/runtime';

const [modelDir, imagePath, ...words] = process.argv.slice(2);
if (!modelDir || !imagePath || words.length === 0) {
  console.error('usage: node answer.mjs <model-dir> <image.png> <question...>');
  process.exit(2);
}
const vlm = await loadVlm(modelDir, { backend: process.env.TFJS_BACKEND ?? 'auto' });
const image = await Jimp.read(imagePath);
console.log(await vlm.answer(image, words.join(' '), { maxNewTokens: 16 }));
console.error(`backend: ${vlm.backend}, decoding: ${vlm.decoding}`);
