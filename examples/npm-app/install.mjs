// An app outside the repository that installs the published packages as a user does: every
// workspace package packed with `npm pack`, installed from those tarballs next to the app's own
// tfjs version. Used by examples/npm-app/test and the browser page test.
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

async function npm(args, cwd) {
  // npm_config_* from a parent `npm test` would leak into the app's install (workspace flags, ...).
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  try {
    return await run('npm', args, { cwd, env: { ...env, NODE_OPTIONS: '' }, maxBuffer: 64 << 20, timeout: 300_000 });
  } catch (e) {
    throw new Error(`npm ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

/**
 * Packs every workspace package (their built dist/: run `npx tsc -b` first) into `dest`.
 * Returns package name -> tarball path.
 */
export async function packWorkspaces(dest) {
  await mkdir(dest, { recursive: true });
  const { stdout } = await npm(['pack', '--workspaces', '--json', '--pack-destination', dest], ROOT);
  const packed = JSON.parse(stdout);
  return Object.fromEntries(packed.map((p) => [p.name, join(dest, p.filename)]));
}

/** `names` and every workspace package they depend on, read from packages/<dir>/package.json. */
async function withWorkspaceDeps(names) {
  const manifests = await Promise.all((await readdir(join(ROOT, 'packages'))).map((d) =>
    readFile(join(ROOT, 'packages', d, 'package.json'), 'utf8').then(JSON.parse, () => null)));
  const deps = new Map(manifests.filter(Boolean).map((m) => [m.name, Object.keys(m.dependencies ?? {})]));
  const out = new Set();
  const visit = (name) => {
    if (out.has(name) || !deps.has(name)) return;
    out.add(name);
    deps.get(name).forEach(visit);
  };
  names.forEach(visit);
  return [...out];
}

/**
 * Writes `appDir/package.json` (an ESM app depending on `ours` and the workspace packages they
 * need, all from their tarballs, and on `dependencies`: name -> version) and installs it, npm
 * cache first. Listing every package of ours at the top level is what keeps a dependency of one
 * on another ("@tfjs-mbq/ops": "0.1.0") on the tarball instead of the registry.
 */
export async function installApp(appDir, { tarballs, ours, dependencies = {}, npmArgs = [] }) {
  await mkdir(appDir, { recursive: true });
  const fileSpec = (name) => {
    if (!tarballs[name]) throw new Error(`installApp: no tarball for ${name} (packed: ${Object.keys(tarballs).join(', ')})`);
    return `file:${tarballs[name]}`;
  };
  const pkg = {
    name: 'tfjs-mbq-app-fixture',
    private: true,
    type: 'module',
    dependencies: { ...dependencies, ...Object.fromEntries((await withWorkspaceDeps(ours)).map((name) => [name, fileSpec(name)])) },
  };
  await writeFile(join(appDir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  await npm(['install', '--no-audit', '--no-fund', '--prefer-offline', ...npmArgs], appDir);
  return appDir;
}

/** Paths of every installed copy of `name` in `appDir` (more than one: a duplicate tfjs). */
export async function copiesOf(appDir, name) {
  const { stdout } = await npm(['ls', name, '--all', '--parseable'], appDir).catch(() => ({ stdout: '' }));
  return [...new Set(stdout.trim().split('\n').filter((l) => l.includes(`node_modules/${name}`)))];
}
