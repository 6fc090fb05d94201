/**
 * Issue 15 §6: node names are the model author's to choose; printing one must not drive the
 * terminal. inspect (text and --json) and error lines escape C0/C1 controls, DEL and the
 * bidirectional overrides.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCli } from './helpers/run_cli.js';
import { printable, terminalJson } from '../src/ui/terminal_text.js';

const FIXTURE = join(process.cwd(), 'fixtures/tiny-vlm');
// Sets the window title, clears the screen, a one-byte CSI (C1), DEL, and a right-to-left override.
const EVIL = '\u001b]0;pwned\u0007\u001b[2J\u009b31m\u007f\u202eMatMul';
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const roots: string[] = [];
afterAll(() => { for (const d of roots) rmSync(d, { recursive: true, force: true }); });

interface GraphNode { name: string; op: string; input?: string[] }

/** The fixture with node `from` renamed to `to` everywhere it is referenced; `edit` may change more. */
function renamedModel(from: string, to: string, edit: (nodes: GraphNode[]) => void = () => undefined): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'mbq-evil-')), 'model');
  roots.push(dir);
  cpSync(FIXTURE, dir, { recursive: true });
  const file = join(dir, 'model.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as { modelTopology: { node: GraphNode[] } };
  for (const n of json.modelTopology.node) {
    if (n.name === from) n.name = to;
    n.input = n.input?.map((i) => i.replace(/^(\^?)(.*?)(:\d+)?$/, (all, hat: string, name: string, port: string | undefined) => (name === from ? `${hat}${to}${port ?? ''}` : all)));
  }
  edit(json.modelTopology.node);
  writeFileSync(file, JSON.stringify(json));
  return dir;
}

test('inspect escapes control characters in the node names it prints (text)', async () => {
  const model = renamedModel('lm/layers.0/self_attn/q_proj/MatMul', `lm/layers.0/self_attn/q_proj/${EVIL}`);
  const r = await runCli(['inspect', model]);
  expect(r.code).toBe(0);
  expect(r.stdout).not.toMatch(RAW_CONTROL);
  expect(r.stdout).toContain(printable(EVIL));
  expect(printable(EVIL)).toBe('\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\x7f\\u202eMatMul');
});

test('inspect --json escapes them too and stays valid JSON', async () => {
  const model = renamedModel('vision/patch_embed/MatMul', `vision/patch_embed/${EVIL}`);
  const r = await runCli(['inspect', model, '--json']);
  expect(r.code).toBe(0);
  expect(r.stdout).not.toMatch(RAW_CONTROL);
  const info = JSON.parse(r.stdout) as { otherLinears: string[] };
  expect(info.otherLinears.some((l) => l.includes(EVIL))).toBe(true); // the name itself survives the round trip
});

test('an error naming an evil node is one escaped line', async () => {
  const name = `lm/layers.0/mlp/${EVIL}\nforged line`;
  const model = renamedModel('lm/layers.0/mlp/Sigmoid', name, (nodes) => { nodes.find((n) => n.name === name)!.op = 'Swish'; });
  const r = await runCli(['convert', model, '--calib', join(process.cwd(), 'fixtures/shapes-vqa/calib'), '--out', join(roots[roots.length - 1]!, '..', 'q'), '--backend', 'cpu', '--no-progress']);
  expect(r.code).toBe(1);
  expect(r.stderr).not.toMatch(RAW_CONTROL);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toContain(printable(name));
});

test('terminalJson: C1, DEL and overrides as \\u escapes, parseable back to the same value', () => {
  const v = { s: EVIL, n: 1 };
  const text = terminalJson(v);
  expect(text).not.toMatch(RAW_CONTROL);
  expect(JSON.parse(text)).toEqual(v);
});

test('import escapes a hostile tensor name from the checkpoint in its error line', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'mbq-evil-')), 'ckpt');
  roots.push(dirname(dir));
  cpSync(join(process.cwd(), 'fixtures/hf/llava-1.5-tiny-tf4'), dir, { recursive: true });
  const index = join(dir, 'model.safetensors.index.json');
  const j = JSON.parse(readFileSync(index, 'utf8')) as { weight_map: Record<string, string> };
  j.weight_map[EVIL] = Object.values(j.weight_map)[0]!;
  writeFileSync(index, JSON.stringify(j));
  const r = await runCli(['import', dir, '--out', join(dirname(dir), 'out'), '--no-progress']);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`tfjs-mbq import: ${index}: tensor '${printable(EVIL)}' is listed in`);
  expect(r.stderr).not.toMatch(RAW_CONTROL);
});
