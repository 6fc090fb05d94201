/**
 * The experiment matrix of docs/results.md (issue 4 §6): which conversions to run, and the CLI
 * commands that reproduce each one. Pure data; no tfjs here.
 */
export type JobKind = 'fp' | 'weight-only' | 'weight-act';
export type Method = 'rtn' | 'awq' | 'mbq' | 'smoothquant';

export interface Job {
  /** Unique, file-name safe: e.g. `mbq-w3-s1`, `smoothquant-w4a8-rot-s2`, `fp`. */
  id: string;
  /** The row this job averages into (id without the seed). */
  config: string;
  kind: JobKind;
  method?: Method;
  wBits?: number;
  aBits?: number;
  rotate: boolean;
  seed: number;
  /** MBQ's loss when not the default mae (the MSE ablation row). */
  loss?: 'mse';
  /** The search's candidate family when not the default awq (the W4A8 `sqfam` rows). */
  scaleFamily?: 'smoothquant';
}

export const MODEL_DIR = 'fixtures/tiny-vlm';
export const CALIB_DIR = 'fixtures/shapes-vqa/calib';
export const EVAL_DIR = 'fixtures/shapes-vqa/eval';

function job(
  kind: JobKind, method: Method, wBits: number, aBits: number | undefined, rotate: boolean, seed: number,
  variant: { loss?: 'mse'; scaleFamily?: 'smoothquant' } = {},
): Job {
  const { loss, scaleFamily } = variant;
  const config = `${method}${loss ? `-${loss}` : ''}${scaleFamily ? '-sqfam' : ''}-w${wBits}${aBits ? `a${aBits}` : ''}${rotate ? '-rot' : ''}`;
  return { id: `${config}-s${seed}`, config, kind, method, wBits, aBits, rotate, seed, ...(loss ? { loss } : {}), ...(scaleFamily ? { scaleFamily } : {}) };
}

/**
 * RTN without rotation reads no calibration data and has no seed: one run. Everything else runs
 * once per calibration seed (the seed picks the calibration samples and the rotation's signs).
 */
export function resultsMatrix(seeds: readonly number[]): Job[] {
  const jobs: Job[] = [{ id: 'fp', config: 'fp', kind: 'fp', rotate: false, seed: 0 }];
  for (const w of [3, 4]) {
    jobs.push(job('weight-only', 'rtn', w, undefined, false, seeds[0]));
    for (const m of ['awq', 'mbq'] as const) for (const s of seeds) jobs.push(job('weight-only', m, w, undefined, false, s));
  }
  // Ablation: MBQ with AWQ's squared error, separating the loss norm from the modality weighting.
  for (const s of seeds) jobs.push(job('weight-only', 'mbq', 3, undefined, false, s, { loss: 'mse' }));
  jobs.push(job('weight-act', 'rtn', 4, 8, false, seeds[0]));
  for (const s of seeds) jobs.push(job('weight-act', 'rtn', 4, 8, true, s));
  for (const m of ['smoothquant', 'mbq'] as const) {
    for (const rotate of [false, true]) for (const s of seeds) jobs.push(job('weight-act', m, 4, 8, rotate, s));
  }
  // MBQ's search over SmoothQuant's candidate family (max|X|^a / max|W|^(1-a)) instead of mean|X|^a.
  for (const rotate of [false, true]) for (const s of seeds) jobs.push(job('weight-act', 'mbq', 4, 8, rotate, s, { scaleFamily: 'smoothquant' }));
  // The same W4A8 searches with AWQ's uniform loss: what MBQ's modality weighting adds.
  for (const variant of [{}, { scaleFamily: 'smoothquant' as const }]) for (const s of seeds) jobs.push(job('weight-act', 'awq', 4, 8, false, s, variant));
  return jobs;
}

/** The `tfjs-mbq convert` flags that select a (non-FP) job's method, bits and variant. */
export function convertFlags(j: Job): string[] {
  const flags = ['--method', String(j.method), '--w-bits', String(j.wBits)];
  if (j.aBits) flags.push('--a-bits', String(j.aBits));
  if (j.rotate) flags.push('--rotate');
  if (j.loss) flags.push('--loss', j.loss);
  if (j.scaleFamily) flags.push('--scale-family', j.scaleFamily);
  flags.push('--seed', String(j.seed));
  return flags;
}

/**
 * The CLI commands that reproduce a job (conversion into out/results/<id>, then evaluation) on
 * `modelDir`. An HF checkpoint (`hf`) converts as it is (convert imports it on the fly); its FP row
 * evaluates the import.
 */
export function jobCommands(j: Job, limit: number, modelDir: string = MODEL_DIR, hf = false): string[] {
  const evalArgs = `--data ${EVAL_DIR} --backend wasm --engine executor${limit ? ` --limit ${limit}` : ''}`;
  if (j.kind === 'fp') {
    return hf ? [`tfjs-mbq import ${modelDir} --out out/results/imported`, `tfjs-mbq eval out/results/imported ${evalArgs}`] : [`tfjs-mbq eval ${modelDir} ${evalArgs}`];
  }
  const out = `out/results/${j.id}`;
  const flags = [...convertFlags(j), '--backend', 'wasm'];
  return [`tfjs-mbq convert ${modelDir} --calib ${CALIB_DIR} --out ${out} ${flags.join(' ')}`, `tfjs-mbq eval ${out} ${evalArgs}`];
}
