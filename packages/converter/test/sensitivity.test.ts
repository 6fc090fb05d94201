import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { captionCrossEntropy, clampByMedian, groupRatio, lowerMedian, measureSensitivity } from '../src/sensitivity/index.js';
import type { ProbeSpec, SensitivitySample } from '../src/sensitivity/index.js';
import { mulberry32, randn } from './search_reference.js';

beforeAll(async () => {
  await initBackend('cpu');
});

function expectClose(actual: number, expected: number, rel: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected) + 1e-12);
}

describe('median clamp', () => {
  it('odd count: the middle value', () => {
    expect(lowerMedian([0.3, 0.1, 0.2])).toBe(0.2);
  });
  it('even count: the lower middle value, as torch.median', () => {
    expect(lowerMedian([0.4, 0.1, 0.3, 0.2])).toBe(0.2);
    expect(clampByMedian([0.4, 0.1, 0.3, 0.2])).toEqual({ median: 0.2, clamped: [0.4, 0.2, 0.3, 0.2] });
  });
  it('rejects empty input and NaN', () => {
    expect(() => lowerMedian([])).toThrow(/no values/);
    expect(() => lowerMedian([1, NaN])).toThrow(/NaN/);
  });
});

describe('captionCrossEntropy', () => {
  it('is the mean cross-entropy of the caption tokens, each read from the logits one position earlier, by hand', () => {
    const logits = [
      [1, 2, 0, -1],
      [0.5, 0.5, 3, 0],
      [2, -2, 1, 1],
      [0, 0, 0, 0],
    ];
    const ids = [3, 1, 2, 0];
    const mask = [0, 0, 1, 1]; // caption tokens ids[2] = 2 (predicted at position 1) and ids[3] = 0 (at position 2)
    const ce = (row: number[], t: number): number => {
      const lse = Math.log(row.reduce((a, v) => a + Math.exp(v), 0));
      return lse - row[t];
    };
    const expected = (ce(logits[1], 2) + ce(logits[2], 0)) / 2;
    const value = tf.tidy(() => captionCrossEntropy(tf.tensor3d([logits]), ids, mask).dataSync()[0]);
    expectClose(value, expected, 1e-6);
  });
  it('rejects a caption mark on position 0 and out-of-vocabulary targets', () => {
    const l = tf.zeros([3, 4]);
    expect(() => captionCrossEntropy(l, [0, 1, 2], [1, 0, 0])).toThrow(/marks position 0/);
    expect(() => captionCrossEntropy(l, [0, 9, 2], [0, 1, 0])).toThrow(/token id 9 at position 1/);
    expect(() => captionCrossEntropy(l, [0, 1, 2], [0, 0, 0])).toThrow(/marks no position/);
    l.dispose();
  });
});

/** Blocks' probes: names `b{i}.attn`, `b{i}.mlp`. */
function specs(blocks: number, channels: number): ProbeSpec[] {
  return Array.from({ length: blocks }, (_, b) => [
    { name: `b${b}.attn`, block: b, site: 'attn' as const, channels },
    { name: `b${b}.mlp`, block: b, site: 'mlp' as const, channels },
  ]).flat();
}

describe('measureSensitivity', () => {
  it('loss linear in the probes: the gradient is the coefficient, ratios follow exactly', async () => {
    // loss = Σ_j Σ A_j ⊙ probe_j with A_j = a_j on vision rows, b_j on caption rows, 7 elsewhere.
    const seq = 6, c = 3, blocks = 4;
    const samples: SensitivitySample[] = [
      { visionMask: [0, 1, 1, 1, 0, 0], captionMask: [0, 0, 0, 0, 1, 0] },
      { visionMask: [0, 1, 1, 0, 0, 0], captionMask: [0, 0, 0, 1, 1, 0] },
    ];
    const ps = specs(blocks, c);
    // Per probe and sample: |vision coefficient|, |caption coefficient| (signs alternate to test |.|).
    const coef = (j: number, i: number): [number, number] => [0.01 * (j + 1) * (i + 1), 0.5 + 0.1 * j];
    const loss = (i: number, probes: Map<string, tf.Tensor2D>): tf.Scalar => {
      const terms = ps.map((s, j) => {
        const [v, t] = coef(j, i);
        const a = new Float32Array(seq * c);
        for (let p = 0; p < seq; p++) {
          for (let ch = 0; ch < c; ch++) {
            const sign = (p + ch) % 2 ? -1 : 1;
            a[p * c + ch] = sign * (samples[i].visionMask[p] ? v : samples[i].captionMask[p] ? t : 7);
          }
        }
        return tf.sum(tf.mul(tf.tensor2d(a, [seq, c]), probes.get(s.name) as tf.Tensor2D));
      });
      return tf.addN(terms) as tf.Scalar;
    };
    const before = tf.memory().numTensors;
    const seen: number[] = [];
    const r = await measureSensitivity(samples, loss, ps, { onSample: (done) => seen.push(done) });
    expect(tf.memory().numTensors).toBe(before);
    expect(seen).toEqual([1, 2]);
    expect(r.blocks.map((b) => b.block)).toEqual([0, 1, 2, 3]);
    const raw: Record<'attn' | 'mlp', number[]> = { attn: [], mlp: [] };
    ps.forEach((s, j) => {
      const gVis = (coef(j, 0)[0] + coef(j, 1)[0]) / 2;
      const gTxt = (coef(j, 0)[1] + coef(j, 1)[1]) / 2;
      const site = r.blocks[s.block][s.site];
      expectClose(site.gVis, gVis, 1e-6);
      expectClose(site.gTxt, gTxt, 1e-6);
      expectClose(site.ratio, gVis / gTxt, 1e-6);
      raw[s.site].push(gVis / gTxt);
    });
    // 4 blocks: the lower of the two middle ratios clamps from below.
    for (const site of ['attn', 'mlp'] as const) {
      const sorted = [...raw[site]].sort((a, b) => a - b);
      const median = site === 'attn' ? r.medianAttn : r.medianMlp;
      expectClose(median, sorted[1], 1e-6);
      const clamped = site === 'attn' ? r.clampedAttn : r.clampedMlp;
      clamped.forEach((v, b) => expectClose(v, Math.max(raw[site][b], sorted[1]), 1e-6));
    }
    expect(r.ratioAttn.length).toBe(4);
    expect(groupRatio(r, 2, 'attn-in')).toBe(r.clampedAttn[2]);
    expect(groupRatio(r, 2, 'attn-out')).toBe(r.clampedAttn[2]);
    expect(groupRatio(r, 1, 'mlp-in')).toBe(r.clampedMlp[1]);
    expect(groupRatio(r, 1, 'mlp-out')).toBe(r.clampedMlp[1]);
    expect(() => groupRatio(r, 9, 'mlp-in')).toThrow(/no sensitivity measured for block 9/);
    expect(r.samples).toBe(2);
  });

  it('caption cross-entropy through a toy model: matches the analytic gradient', async () => {
    // logits = M (H + P_attn,b + P_mlp,b ...) Wout, M a causal averaging matrix mixing positions,
    // so dCE/dP = Mᵀ G Woutᵀ with G[p] = (softmax(logits[p]) - onehot(ids[p+1])) / n_c on caption rows.
    const rand = mulberry32(2024);
    const seq = 7, c = 5, vocab = 6, blocks = 3;
    const hData = randn(rand, seq * c);
    const wData = randn(rand, c * vocab);
    const ids = [0, 4, 4, 1, 2, 5, 3];
    const sample: SensitivitySample = { visionMask: [0, 1, 1, 1, 0, 0, 0], captionMask: [0, 0, 0, 0, 1, 1, 0] };
    const mData = new Float64Array(seq * seq);
    for (let p = 0; p < seq; p++) for (let q = 0; q <= p; q++) mData[p * seq + q] = 1 / (p + 1);
    // Block b's probes enter with weight (b + 1) (attn) and 0.5 (mlp), so the ratios are equal across blocks
    // but the absolute gradients differ.
    const ps = specs(blocks, c);
    const weightOf = (s: ProbeSpec): number => (s.site === 'attn' ? s.block + 1 : 0.5);
    const loss = (_i: number, probes: Map<string, tf.Tensor2D>): tf.Scalar => {
      let h: tf.Tensor = tf.tensor2d(hData, [seq, c]);
      for (const s of ps) h = tf.add(h, tf.mul(probes.get(s.name) as tf.Tensor2D, weightOf(s)));
      const logits = tf.matMul(tf.matMul(tf.tensor2d(Float32Array.from(mData), [seq, seq]), h as tf.Tensor2D), tf.tensor2d(wData, [c, vocab]));
      return captionCrossEntropy(logits, ids, sample.captionMask);
    };
    const r = await measureSensitivity([sample], loss, ps);

    // float64 analytic gradient.
    const hm = new Float64Array(seq * c);
    for (let p = 0; p < seq; p++) for (let q = 0; q < seq; q++) for (let k = 0; k < c; k++) hm[p * c + k] += mData[p * seq + q] * hData[q * c + k];
    const g = new Float64Array(seq * vocab);
    const caption = [3, 4]; // the positions predicting the caption tokens 4 and 5 (captionMask)
    for (const p of caption) {
      const row = Array.from({ length: vocab }, (_, v) => { let a = 0; for (let k = 0; k < c; k++) a += hm[p * c + k] * wData[k * vocab + v]; return a; });
      const mx = Math.max(...row);
      const z = row.reduce((a, v) => a + Math.exp(v - mx), 0);
      row.forEach((v, j) => { g[p * vocab + j] = (Math.exp(v - mx) / z - (j === ids[p + 1] ? 1 : 0)) / caption.length; });
    }
    const gw = new Float64Array(seq * c); // G Woutᵀ
    for (let p = 0; p < seq; p++) for (let k = 0; k < c; k++) for (let v = 0; v < vocab; v++) gw[p * c + k] += g[p * vocab + v] * wData[k * vocab + v];
    const dp = new Float64Array(seq * c); // Mᵀ G Woutᵀ
    for (let q = 0; q < seq; q++) for (let p = 0; p < seq; p++) for (let k = 0; k < c; k++) dp[q * c + k] += mData[p * seq + q] * gw[p * c + k];
    const meanAbsOver = (mask: ArrayLike<number>): number => {
      let s = 0, n = 0;
      for (let p = 0; p < seq; p++) if (mask[p]) { n++; for (let k = 0; k < c; k++) s += Math.abs(dp[p * c + k]); }
      return s / (n * c);
    };
    const gVis = meanAbsOver(sample.visionMask);
    const gTxt = meanAbsOver(sample.captionMask);
    expect(gVis).toBeGreaterThan(0);
    for (const s of ps) {
      const site = r.blocks[s.block][s.site];
      expectClose(site.gVis, weightOf(s) * gVis, 1e-4);
      expectClose(site.gTxt, weightOf(s) * gTxt, 1e-4);
      expectClose(site.ratio, gVis / gTxt, 1e-4);
    }
  });

  it('is deterministic and rejects bad probes with clear errors', async () => {
    const ps = specs(2, 2);
    const samples: SensitivitySample[] = [{ visionMask: [1, 1, 0], captionMask: [0, 0, 1] }];
    const loss = (_i: number, probes: Map<string, tf.Tensor2D>): tf.Scalar =>
      tf.addN(ps.map((s, j) => tf.sum(tf.mul(tf.square(tf.add(probes.get(s.name) as tf.Tensor2D, 0.3 * (j + 1))), tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]))))) as tf.Scalar;
    expect(await measureSensitivity(samples, loss, ps)).toEqual(await measureSensitivity(samples, loss, ps));
    const unused = (_i: number, probes: Map<string, tf.Tensor2D>): tf.Scalar => tf.sum(probes.get('b0.attn') as tf.Tensor2D) as tf.Scalar;
    await expect(measureSensitivity(samples, unused, ps)).rejects.toThrow(/measureSensitivity: gradient for sample 0 failed/);
    await expect(measureSensitivity(samples, loss, ps.slice(0, 3))).rejects.toThrow(/block 1 needs both an 'attn' and an 'mlp' probe/);
    await expect(measureSensitivity([{ visionMask: [1, 0], captionMask: [0, 0] }], loss, ps)).rejects.toThrow(/sample 0 has no caption position/);
  });
});
