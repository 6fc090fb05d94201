/**
 * report.html is titled and laid out for its method (issue 14 §4): MBQ shows the sensitivity chart
 * and the search (ratio, alpha, loss curve); SmoothQuant (scales set, not searched) no curve or
 * ratio; RTN only the quantization error per group. Synthetic quantization.json records.
 */
import { renderReport } from '../src/emit/report.js';
import type { QuantizationJson } from '../src/emit/quantization_json.js';

function record(method: string, withSensitivity: boolean): QuantizationJson {
  const group = {
    block: 0, group: 'attn-in' as const, linears: ['layers.0.q_proj', 'layers.0.k_proj'], fold: 'gamma', ratio: 0.25, alpha: method === 'rtn' ? 0 : 0.5,
    lossBefore: 0.02, lossAfter: method === 'rtn' ? 0.02 : 0.01, lossKind: null, modalityMse: { before: [0.03, 0.01] as [number, number], after: [0.02, 0.005] as [number, number] },
    lossCurve: method === 'mbq' ? [0.02, 0.015, 0.01, 0.012] : [], scales: [1, 2, 0.5, 1],
  };
  return {
    format: 'tfjs-mbq-quantization', version: 1, source: 'm', method, wBits: 4, aBits: method === 'smoothquant' ? 8 : null, groupSize: 32, loss: 'mae', scaleFamily: 'awq',
    distort: false, rotate: false, gridSize: 4, seed: 0, emit: 'quantized', calibration: { samples: 2, available: 2, images: ['a.png', 'b.png'] }, blocks: 1,
    sensitivity: withSensitivity ? { medianAttn: 0.25, medianMlp: 0.5, blocks: [{ block: 0, attn: { gVis: 1e-3, gTxt: 4e-3, ratio: 0.25, clamped: 0.25 }, mlp: { gVis: 2e-3, gTxt: 4e-3, ratio: 0.5, clamped: 0.5 } }] } : null,
    rotation: null, groups: [group], linears: [], keptFloat: [], size: { inputWeightBytes: 4 * 1024 ** 2, outputWeightBytes: 1024 ** 2 },
    evaluation: { samples: 2, tokens: 10, captionLossFloat: 1, captionLossQuantized: 1.1, top1AgreementCaption: 0.9, foldRelativeError: 0 },
  };
}

test('MBQ: sensitivity, the alpha search and its loss curve', () => {
  const html = renderReport(record('mbq', true));
  expect(html).toContain('<h1>MBQ conversion report</h1>');
  expect(html).toContain('Modality sensitivity');
  expect(html).toContain('<h2>Scale search per group</h2>');
  expect(html).toContain('<th>loss vs alpha</th>');
  expect(html).toContain('<th>ratio r</th>');
  expect(html).toContain('4.0 MiB &rarr; 1.0 MiB');
  expect(html).toContain('(0.25&times;)');
});

test('SmoothQuant: scales without a search, no curve or modality ratio', () => {
  const html = renderReport(record('smoothquant', false));
  expect(html).toContain('<h1>SmoothQuant conversion report</h1>');
  expect(html).toContain('<h2>SmoothQuant scales per group</h2>');
  expect(html).not.toMatch(/Modality sensitivity|loss vs alpha|ratio r|, loss mae/);
  expect(html).toContain('50.0%'); // 0.02 -> 0.01
});

test('RTN: the quantization error per group, nothing about scales', () => {
  const html = renderReport(record('rtn', false));
  expect(html).toContain('<h1>RTN (round-to-nearest) conversion report</h1>');
  expect(html).toContain('<th>output MSE</th><th>vision tokens</th><th>text tokens</th>');
  expect(html).toContain('<td class="num">0.020</td><td class="num">0.030</td><td class="num">0.010</td>');
  expect(html).not.toMatch(/alpha|Scale search|scales \(sorted\)|Modality sensitivity/);
});
