// Times greedy decoding with the KV cache against re-running the whole sequence per token.
//   node examples/node/bench-decode.mjs <model-dir> <image.png> [--backend cpu|wasm|webgpu] [--tokens 16] [--runs 5] [question...]
// Prints the prompt time (maxNewTokens 1) and the time per further token, median of --runs.
import { Jimp } from 'jimp';
import { loadVlm } from '@tfjs-mbq/runtime';

const args = process.argv.slice(2);
const flag = (name, dflt) => { const i = args.indexOf(`--${name}`); if (i < 0) return dflt; const v = args[i + 1]; args.splice(i, 2); return v; };
const backend = flag('backend', 'cpu');
const tokens = Number(flag('tokens', '16'));
const runs = Number(flag('runs', '5'));
const [modelDir, imagePath, ...words] = args;
if (!modelDir || !imagePath) { console.error('usage: node bench-decode.mjs <model-dir> <image.png> [--backend b] [--tokens n] [--runs r] [question...]'); process.exit(2); }
const question = words.length ? words.join(' ') : 'what color is the object at the top left ?';
const image = await Jimp.read(imagePath);
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const kvCache of [true, false]) {
  const vlm = await loadVlm(modelDir, { backend, kvCache });
  const time = async (n) => {
    const t = [];
    let gen;
    for (let r = 0; r < runs + 1; r++) {
      const t0 = performance.now();
      gen = await vlm.generate(image, question, { maxNewTokens: n });
      if (r > 0) t.push(performance.now() - t0); // first run warms up kernels
    }
    return { ms: median(t), gen };
  };
  const first = await time(1);
  const all = await time(tokens);
  const steps = all.gen.tokenIds.length - 1;
  const perToken = steps > 0 ? (all.ms - first.ms) / steps : NaN;
  console.log(`${vlm.decoding.padEnd(8)} backend=${vlm.backend} prompt=${all.gen.promptLength} tokens=${all.gen.tokenIds.length}${all.gen.stoppedAtEos ? '+EOS' : ''}` +
    ` first-token=${first.ms.toFixed(1)}ms per-further-token=${perToken.toFixed(2)}ms answer="${all.gen.text}"`);
  vlm.dispose();
}
