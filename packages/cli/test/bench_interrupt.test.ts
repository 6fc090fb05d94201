/**
 * Issue 15 §3 for `tfjs-mbq bench`: a bench that made a scratch copy of its float baseline (fused as
 * the model is, or imported from a checkpoint: a model-sized copy in the temporary directory) and
 * is ended by SIGTERM removes that copy, says so in one line and ends by the signal. Runs the built
 * CLI (dist/bin.js) with a private TMPDIR, so the check sees only this run's scratch directories.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = process.cwd();
const BIN = join(ROOT, 'packages/cli/dist/bin.js');
const FIXTURE = join(ROOT, 'fixtures/tiny-vlm');
const BOUND_MS = 5_000;

let root = '';
let model = '';
beforeAll(() => {
  expect(existsSync(BIN)).toBe(true);
  root = mkdtempSync(join(tmpdir(), 'mbq-bench-int-'));
  model = join(root, 'w4');
  // A fused W4 model (convert's default --fuse), so bench fuses the unfused float fixture into a scratch copy.
  const r = spawnSync(process.execPath, [BIN, 'convert', FIXTURE, '--calib', join(ROOT, 'fixtures/shapes-vqa/calib'), '--out', model,
    '--method', 'rtn', '--w-bits', '4', '--backend', 'wasm'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

test('bench: SIGTERM while benching against a fused scratch copy of the baseline removes the copy and ends by the signal within 5 s', async () => {
  const tmp = mkdtempSync(join(root, 'tmp-'));
  const child = spawn(process.execPath, [BIN, 'bench', model, '--baseline', FIXTURE, '--backend', 'wasm', '--runs', '200', '--tokens', '16'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
  let stderr = '';
  let sentAt = 0;
  let scratchSeen: string[] = [];
  child.stderr!.on('data', (d) => {
    stderr += String(d);
    if (!sentAt && stderr.includes('into a scratch copy')) {
      sentAt = -1;
      // Well into the timed rounds, with the scratch copy on disk.
      setTimeout(() => {
        scratchSeen = readdirSync(tmp).filter((f) => f.startsWith('tfjs-mbq-bench-'));
        sentAt = Date.now();
        child.kill('SIGTERM');
      }, 1500);
    }
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (c, s) => resolve({ code: c, signal: s })));
  clearTimeout(killer);
  const afterSignalMs = Date.now() - sentAt;
  expect(scratchSeen).toHaveLength(1); // the copy existed when the signal came
  expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
  expect(afterSignalMs).toBeLessThan(BOUND_MS);
  expect(stderr).toContain(`tfjs-mbq bench: interrupted by SIGTERM; removed its scratch directory ${join(tmp, scratchSeen[0]!)}\n`);
  expect(readdirSync(tmp)).toEqual([]);
}, 120_000);
