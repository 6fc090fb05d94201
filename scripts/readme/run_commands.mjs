// Runs every command of README.md's ```sh blocks, in order, from the current directory (a fresh
// clone after `npm ci && npm run build`: scripts/readme/fresh_clone.sh). Issue 14 §2.
//
// Kept from the README as written, except what keeps CI within minutes (said per command):
// conversions get `--samples 4` and eval `--limit 20` unless they give their own, bench runs one
// round, the server listens on a free port and is stopped once it answered. Parts of a line that
// set up the machine (`bash .ci/install-system.sh`, `npm ci`) or are CI itself (`npm test`) are
// skipped: the fresh clone already ran them. A comment line right after a command is its
// expected output. Exits 1 at the first command that fails, naming it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const COMMAND_TIMEOUT_MS = 6 * 60_000;
const SKIPPED = [/^bash \.ci\/install-system\.sh$/, /^npm ci\b/, /^npm test$/];

/** [{ command, expected? }] from the ```sh blocks: trailing comments dropped, `&&` chains split. */
export function readmeCommands(markdown) {
  const out = [];
  for (const block of markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    for (const raw of block[1].split('\n')) {
      const line = raw.trim();
      if (line === '') continue;
      if (line.startsWith('#')) {
        if (out.length) out[out.length - 1].expected = line.replace(/^#\s*/, '');
        continue;
      }
      const code = line.replace(/\s+#\s.*$/, '');
      for (const part of code.split(/\s+&&\s+/)) {
        if (!SKIPPED.some((re) => re.test(part))) out.push({ command: part });
      }
    }
  }
  return out;
}

/** The command as CI runs it (see the header), and why it differs, if it does. */
export function forCi(command) {
  const notes = [];
  let c = command;
  if (/^npx tfjs-mbq convert\b/.test(c) && !/--samples\b/.test(c)) { c += ' --samples 4'; notes.push('--samples 4'); }
  if (/^npx tfjs-mbq eval\b/.test(c) && !/--limit\b/.test(c)) { c += ' --limit 20'; notes.push('--limit 20'); }
  if (/^npx tfjs-mbq bench\b/.test(c)) {
    for (const [option, value] of [['--warmup', '0'], ['--runs', '1']]) {
      c = new RegExp(`${option} \\S+`).test(c) ? c.replace(new RegExp(`${option} \\S+`), `${option} ${value}`) : `${c} ${option} ${value}`;
    }
    notes.push('one round');
  }
  const serves = /^node examples\/browser\/serve\.mjs\b/.test(c);
  if (serves) { c = c.replace(/--port \S+/, '--port 0'); notes.push('a free port, stopped once it answered'); }
  return { command: c, notes, serves };
}

function run(command, onLine) {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    const stop = () => { try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ } };
    const timer = setTimeout(() => { stderr += `\n(timed out after ${COMMAND_TIMEOUT_MS / 1000} s)`; stop(); }, COMMAND_TIMEOUT_MS);
    child.stdout.on('data', (d) => { stdout += d; onLine?.(stdout, stop); });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

/** Starts the server command, fetches the page and the model's model.json, stops it. */
async function checkServer(command) {
  let checked;
  const r = await run(command, (stdout, stop) => {
    const url = /serving (http:\/\/\S+\/)/.exec(stdout)?.[1];
    if (!url || checked) return;
    checked = (async () => {
      try {
        for (const path of ['', 'model/model.json']) {
          const res = await fetch(url + path);
          if (res.status !== 200) throw new Error(`GET ${url}${path}: ${res.status}`);
        }
        return null;
      } catch (e) {
        return e.message;
      } finally {
        stop();
      }
    })();
  });
  const problem = checked ? await checked : `the server never said where it serves (exit ${r.code ?? r.signal})`;
  return { ...r, code: problem ? 1 : 0, stderr: problem ? `${r.stderr}\n${problem}` : r.stderr };
}

async function main() {
  const commands = readmeCommands(readFileSync('README.md', 'utf8'));
  if (commands.length === 0) throw new Error('README.md: no ```sh commands found');
  for (const { command, expected } of commands) {
    const ci = forCi(command);
    const t0 = Date.now();
    process.stdout.write(`$ ${ci.command}${ci.notes.length ? `    (README: ${command}; here ${ci.notes.join(', ')})` : ''}\n`);
    const r = ci.serves ? await checkServer(ci.command) : await run(ci.command);
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    const wrong = expected !== undefined && r.code === 0 && r.stdout.trim().split('\n').pop() !== expected;
    if (r.code !== 0 || wrong) {
      process.stdout.write(r.stdout.slice(-4000));
      process.stderr.write(r.stderr.slice(-4000));
      process.stderr.write(`\nREADME command failed after ${seconds} s: ${command}${wrong ? ` (expected output "${expected}")` : ` (exit ${r.code ?? r.signal})`}\n`);
      process.exit(1);
    }
    process.stdout.write(`  ok in ${seconds} s${expected !== undefined ? `, printed "${expected}"` : ''}\n`);
  }
  process.stdout.write(`all ${commands.length} README commands ran\n`);
}

// Run when executed (the tests import the parsing functions only).
if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
