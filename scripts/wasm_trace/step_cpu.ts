/**
 * Per-decode-step CPU and wall time of models in one process, rounds interleaved (issue 17,
 * target 4). On a shared machine the CPU time of a step (process.cpuUsage around it) is far less
 * disturbed by other processes than its wall time:
 *   npm run build && bash scripts/wasm_trace/build.sh
 *   node scripts/wasm_trace/dist/step_cpu.mjs out/fused-w4 out/fused-f32emit [--backend wasm] [--rounds 10] [--steps 32]
 * The first round is a warm-up; medians over the other rounds' steps.
 */
import { initBackend, type BackendName } from '@tfjs-mbq/ops/backends';
import { loadImageAndModels, median, takeFlag } from './common.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => takeFlag(args, name, fallback);
const backendName = flag('--backend', 'wasm') as BackendName;
const rounds = Number(flag('--rounds', '10'));
const steps = Number(flag('--steps', '32'));
const image = flag('--image', 'fixtures/shapes-vqa/eval/0000.png');
const question = flag('--question', 'what color is the object at the bottom right ?');
for (const [name, v] of [['--rounds', rounds], ['--steps', steps]] as const) {
  if (!Number.isInteger(v) || v < 2) throw new Error(`${name} must be an integer >= 2, got ${v}`);
}
if (args.length === 0) throw new Error('usage: step_cpu.mjs <modelDir> [<modelDir> ...] [--backend wasm] [--rounds 10] [--steps 32]');

await initBackend(backendName);
const { img, models } = await loadImageAndModels(image, args);

const results = models.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
for (let r = 0; r < rounds; r++) {
  for (const [i, m] of models.entries()) {
    // timeDecode calls now() before and after preprocessing and prefill (4 calls), then at the
    // start and end of each step: CPU time is read at the same points.
    let calls = 0;
    let c0 = process.cpuUsage();
    const cpu: number[] = [];
    const t = await m.timeDecode(img, question, {
      steps,
      now: () => {
        calls++;
        if (calls > 4) {
          if (calls % 2 === 1) c0 = process.cpuUsage();
          else { const c = process.cpuUsage(c0); cpu.push((c.user + c.system) / 1000); }
        }
        return performance.now();
      },
    });
    if (r === 0) continue;
    results[i]!.wall.push(...t.stepMs);
    results[i]!.cpu.push(...cpu);
  }
}
for (const m of models) m.dispose();
const base = results[results.length - 1]!;
console.log(`backend ${backendName}; per decode step, median of ${results[0]!.cpu.length} steps (${rounds - 1} interleaved rounds × ${steps}); ratio to the last model`);
for (const [i, dir] of args.entries()) {
  const { wall, cpu } = results[i]!;
  console.log(`${dir.padEnd(32)} CPU ${median(cpu).toFixed(3)} ms (${(median(cpu) / median(base.cpu)).toFixed(2)}x)   wall ${median(wall).toFixed(3)} ms (${(median(wall) / median(base.wall)).toFixed(2)}x)`);
}
