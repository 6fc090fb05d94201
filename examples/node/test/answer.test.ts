import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Jimp } from 'jimp';
import { loadVlm } from '@tfjs-mbq/runtime';
import { convertFixture } from '../../../packages/runtime/test/helpers/convert_fixture.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const script = join(root, 'examples/node/answer.mjs');
const run = promisify(execFile);
const EVAL = join(root, 'fixtures/shapes-vqa/eval');
const item = readFileSync(join(EVAL, 'manifest.jsonl'), 'utf8').trim().split('\n')
  .map((l) => JSON.parse(l) as { image: string; question?: string }).filter((x) => x.question)[1]!;

describe('examples/node/answer.mjs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mbq-node-example-'));
    // A converted model: the fixture VLM through the converter (MBQ, 4-bit weights).
    await convertFixture(join(dir, 'model'), { wBits: 4 });
  }, 180_000);
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('answers a shapes-vqa question about a PNG, as the runtime does in-process', async () => {
    // The script imports the built package (packages/runtime/dist), as a user's app would.
    expect(existsSync(join(root, 'packages/runtime/dist/index.js'))).toBe(true);
    const png = join(EVAL, item.image);
    const { stdout, stderr } = await run(process.execPath, [script, join(dir, 'model'), png, ...item.question!.split(' ')], {
      cwd: root, env: { ...process.env, TFJS_BACKEND: 'wasm', NODE_OPTIONS: '' }, timeout: 90_000,
    });
    expect(stderr).toMatch(/backend: wasm, decoding: kv-cache/);
    const vlm = await loadVlm(join(dir, 'model'), { backend: 'wasm' });
    const expected = await vlm.answer(await Jimp.read(png), item.question!, { maxNewTokens: 16 });
    vlm.dispose();
    expect(expected).toMatch(/^[a-z]+( [a-z]+)?$/); // one of the fixture's answers
    expect(stdout.trim()).toBe(expected);
  });

  it('prints usage and exits 2 without arguments', async () => {
    await expect(run(process.execPath, [script], { cwd: root, env: { ...process.env, NODE_OPTIONS: '' } })).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/usage: node answer.mjs/) });
  });
});
