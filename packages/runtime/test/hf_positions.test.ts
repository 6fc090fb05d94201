/**
 * An import that covers fewer positions than config.json states (mbq.json `maxPositions`, issue 15
 * §4 / issue 12: a 32768-position causal mask would be 4 GiB): the runtime refuses prompts past
 * the graph's positions by mbq.json, not by config.json, and answers within them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importCheckpoint } from '@tfjs-mbq/importer';
import { loadVlm, type Vlm } from '@tfjs-mbq/runtime';

let tmp: string;
let vlm: Vlm;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hf-positions-'));
  const r = await importCheckpoint({ hfDir: 'fixtures/hf/llava-1.5-tiny', outDir: join(tmp, 'model'), maxPositions: 40 });
  expect(r.mbq.maxPositions).toBe(40); // config.json says 256
  vlm = await loadVlm(r.outDir, { backend: 'cpu' });
});
afterAll(() => {
  vlm?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

test('a prompt past mbq.json maxPositions is refused; one within it is answered', async () => {
  const image = { data: new Uint8Array(64 * 64 * 4).fill(200), width: 64, height: 64 };
  await expect(vlm.answer(image, 'what color is the object at the bottom right ? '.repeat(3))).rejects.toThrow(/answer: the prompt has \d+ tokens; the model takes at most 40 positions/);
  const g = await vlm.generate(image, 'color?', { maxNewTokens: 3 });
  expect(g.promptLength).toBeLessThanOrEqual(40);
  expect(g.tokenIds.length > 0 || g.stoppedAtEos).toBe(true);
});
