/**
 * `convert <hfDir>` takes the import's graph options (issue 12): `--image-size` (Qwen2-VL) and
 * `--max-positions` reach the on-the-fly import, so a converted Qwen2-VL built at the records' size
 * answers with exactly the processor's prompt ids; given with a tfjs model directory, or malformed,
 * they are refused before any work, one line, nothing written.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jimp } from 'jimp';
import { loadVlm } from '@tfjs-mbq/runtime';
import { readRecords } from '../../importer/test/helpers/hf_records.js';
import { CALIB, HF } from './helpers/hf_convert.js';
import { runCli } from './helpers/run_cli.js';

let tmp: string;
beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'hf-convert-options-')); });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function messages(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !/ExperimentalWarning|--trace-warnings/.test(l));
}

test.each([
  [['fixtures/tiny-vlm', '--image-size', '84x84'], '--image-size applies to a Hugging Face checkpoint directory; fixtures/tiny-vlm is not one'],
  [['fixtures/tiny-vlm', '--max-positions', '300'], '--max-positions applies to a Hugging Face checkpoint directory; fixtures/tiny-vlm is not one'],
  [['fixtures/hf/qwen2-vl-tiny', '--image-size', '84'], '--image-size must be HxW with positive integers (e.g. 448x448), got "84"'],
  [['fixtures/hf/qwen2-vl-tiny', '--max-positions', '99999'], '--max-positions must be an integer from 2 to 16384, got 99999'],
])('convert %j is refused before any work', async (args, message) => {
  const out = join(tmp, 'refused');
  const r = await runCli(['convert', args[0]!, '--calib', CALIB, '--out', out, '--no-progress', '--backend', 'cpu', ...args.slice(1)]);
  expect(r.code).toBe(1);
  expect(messages(r.stderr)).toEqual([`tfjs-mbq convert: ${message}`]);
  expect(existsSync(out)).toBe(false);
});

test('convert <Qwen2-VL checkpoint> --image-size 84x84 --max-positions 200: answers the records\' PNG with the processor\'s prompt ids', async () => {
  const hfDir = join(HF, 'qwen2-vl-tiny');
  const out = join(tmp, 'qwen-84');
  const r = await runCli(['convert', hfDir, '--calib', CALIB, '--samples', '2', '--w-bits', '4', '--backend', 'wasm', '--out', out, '--no-progress', '--image-size', '84x84', '--max-positions', '200']);
  expect(messages(r.stderr)).toEqual([]);
  expect(r.code).toBe(0);
  const mbq = JSON.parse(readFileSync(join(out, 'mbq.json'), 'utf8')) as { imageSize: number[]; maxPositions?: number };
  expect(mbq.imageSize).toEqual([84, 84]);
  expect(mbq.maxPositions).toBe(200);
  const { cases } = await readRecords(hfDir);
  const vlm = await loadVlm(out, { backend: 'wasm' });
  try {
    for (const c of cases) {
      expect(vlm.promptIds(c.question)).toEqual(c.input_ids);
      const g = await vlm.generate(await Jimp.read(c.image), c.question, { maxNewTokens: 4 });
      expect(g.promptLength).toBe(c.input_ids.length);
      expect(g.tokenIds.length > 0 || g.stoppedAtEos).toBe(true);
    }
  } finally {
    vlm.dispose();
  }
});
