/**
 * What each published tarball holds, from `npm pack --dry-run` of every workspace package (the
 * built dist/ must exist: `npm test` builds first): license, readme, notice, engines, and source
 * maps whose every source is in the tarball too.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

interface Packed { name: string; files: Array<{ path: string }> }
interface Manifest { license?: string; engines?: { node?: string }; files?: string[] }

let packed: Packed[];
const dirOf = new Map<string, string>();

beforeAll(async () => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--workspaces'], { cwd: ROOT, env: { ...env, NODE_OPTIONS: '' }, maxBuffer: 64 << 20 });
  packed = JSON.parse(stdout) as Packed[];
  const workspaces = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
  for (const ws of workspaces) dirOf.set((JSON.parse(readFileSync(join(ROOT, ws, 'package.json'), 'utf8')) as { name: string }).name, join(ROOT, ws));
  expect(packed.map((p) => p.name).sort()).toEqual([...dirOf.keys()].sort());
}, 120_000);

test('every package ships the Apache-2.0 LICENSE, a README and engines; the converter its NOTICE', () => {
  const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
  for (const p of packed) {
    const dir = dirOf.get(p.name)!;
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
    const files = p.files.map((f) => f.path);
    expect(`${p.name}: ${manifest.license}`).toBe(`${p.name}: Apache-2.0`);
    expect(`${p.name}: ${manifest.engines?.node}`).toBe(`${p.name}: >=20.19.0`);
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']));
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toBe(license);
    if (p.name === '@tfjs-mbq/converter') {
      expect(files).toContain('NOTICE');
      expect(readFileSync(join(dir, 'NOTICE'), 'utf8')).toBe(readFileSync(join(ROOT, 'NOTICE'), 'utf8'));
    }
  }
});

test('every source map in a tarball points at sources in the same tarball', () => {
  let maps = 0;
  for (const p of packed) {
    const dir = dirOf.get(p.name)!;
    const files = new Set(p.files.map((f) => f.path));
    for (const file of files) {
      if (!file.endsWith('.map')) continue;
      maps++;
      const map = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { sources: string[]; sourceRoot?: string };
      for (const source of map.sources) {
        const target = normalize(join(dirname(file), map.sourceRoot ?? '', source));
        expect(`${p.name}: ${file} -> ${target} ${files.has(target) ? 'shipped' : 'missing'}`).toBe(`${p.name}: ${file} -> ${target} shipped`);
      }
    }
  }
  expect(maps).toBeGreaterThan(100);
});
