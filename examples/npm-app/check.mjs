// What an app on its own tfjs version does with the published packages, as one JSON line on stdout:
//   node check.mjs <quantized-model-dir> <float-model-dir> <calib-dir> <image.png> <question> <scratch-dir>
// 1. plain tfjs: `import '@tfjs-mbq/ops'`, then tf.loadGraphModel runs the MbqQuantizedMatMul nodes;
// 2. @tfjs-mbq/runtime's loadVlm() answers the question; both on cpu and wasm;
// 3. @tfjs-mbq/converter converts the float model (MBQ W4, 4 samples, wasm);
// 4. asking for WebGPU without the optional 'webgpu' package (Dawn) gives its one-line message.
// The test (test/npm_app.test.ts) compares the numbers with the repository's own run.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, version_converter } from '@tensorflow/tfjs-converter';
import '@tfjs-mbq/ops';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { loadVlm, toPixelValues } from '@tfjs-mbq/runtime';
import { convert } from '@tfjs-mbq/converter';
import { Jimp } from 'jimp';

const [modelDir, floatDir, calibDir, imagePath, question, scratch] = process.argv.slice(2);

/** A tfjs IOHandler over a model directory: model.json + its shards, concatenated. */
async function dirHandler(dir) {
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  const paths = json.weightsManifest.flatMap((g) => g.paths);
  const shards = await Promise.all(paths.map((p) => readFile(join(dir, p))));
  const all = Buffer.concat(shards);
  return {
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      format: json.format,
    }),
  };
}

const mbq = JSON.parse(await readFile(join(modelDir, 'mbq.json'), 'utf8'));
const image = await Jimp.read(imagePath);
const [H, W] = mbq.imageSize;
const inputIds = [mbq.bosTokenId, ...Array(mbq.imageTokenCount).fill(mbq.imageTokenId), 5, 6, 7, 8, 9];
const result = { versions: { core: tf.version_core, converter: version_converter }, backends: {} };

for (const backend of ['cpu', 'wasm']) {
  await initBackend(backend);
  const graph = await loadGraphModel(await dirHandler(modelDir));
  const pixels = toPixelValues(image, [H, W]);
  const ids = tf.tensor2d([inputIds], [1, inputIds.length], 'int32');
  const logits = graph.execute({ pixel_values: pixels, input_ids: ids });
  const last = Array.from(await tf.slice(logits, [0, inputIds.length - 1, 0], [1, 1, -1]).data());
  tf.dispose([pixels, ids, logits]);
  graph.dispose();
  const vlm = await loadVlm(modelDir, { backend });
  const answer = await vlm.answer(image, question);
  result.backends[backend] = { active: tf.getBackend(), lastLogits: last, answer, vlmBackend: vlm.backend, decoding: vlm.decoding };
  vlm.dispose?.();
}

await initBackend('wasm');
const out = join(scratch, 'converted');
await convert({ modelDir: floatDir, calibDir, outDir: out, method: 'mbq', wBits: 4, samples: 4, seed: 0 });
const sha = async (f) => createHash('sha256').update(await readFile(join(out, f))).digest('hex');
result.converted = { shard: await sha('group1-shard1of1.bin') };

result.webgpuWithoutDawn = await initBackend('webgpu').then((r) => `initialised: ${r.detail}`, (e) => e.message);
console.log(JSON.stringify(result));
