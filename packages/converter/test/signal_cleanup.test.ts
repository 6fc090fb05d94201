/**
 * The signal-cleanup registry (io/signal_cleanup.ts) in this process: signals are emitted on
 * `process` rather than sent, and process.kill is replaced, so "ends by the signal" is the
 * recorded re-raise. The real endings (exit status 128 + n) are checked by signals.test.ts, the
 * CLI's interrupt.test.ts and bench_interrupt.test.ts through the cleanups that use the registry.
 */
import { registerSignalCleanup } from '../src/io/signal_cleanup.js';

const realKill = process.kill;
const realWrite = process.stderr.write;
let raised: Array<[number, string | number | undefined]>;
let stderr: string;
const base = { SIGINT: 0, SIGTERM: 0, SIGHUP: 0 };
/** Listeners the registry added for `signal`. */
const ours = (signal: keyof typeof base): number => process.listenerCount(signal) - base[signal];

beforeEach(() => {
  for (const s of Object.keys(base) as Array<keyof typeof base>) base[s] = process.listenerCount(s);
  raised = [];
  stderr = '';
  process.kill = ((pid: number, signal?: string | number) => { raised.push([pid, signal]); return true; }) as typeof process.kill;
  process.stderr.write = ((chunk: string) => { stderr += chunk; return true; }) as typeof process.stderr.write;
});
afterEach(() => {
  process.kill = realKill;
  process.stderr.write = realWrite;
});

test('cleanups run once, newest first, then the handlers are removed and the signal is raised again', () => {
  const ran: string[] = [];
  const a = registerSignalCleanup(['SIGINT', 'SIGTERM'], (s) => { ran.push(`a ${s}`); });
  registerSignalCleanup(['SIGTERM'], (s) => { ran.push(`b ${s}`); });
  registerSignalCleanup(['SIGINT', 'SIGTERM', 'SIGHUP'], (s) => { ran.push(`c ${s}`); });
  expect([ours('SIGINT'), ours('SIGTERM'), ours('SIGHUP')]).toEqual([1, 1, 1]);

  process.emit('SIGTERM', 'SIGTERM');
  expect(ran).toEqual(['c SIGTERM', 'b SIGTERM', 'a SIGTERM']);
  expect(raised).toEqual([[process.pid, 'SIGTERM']]);
  expect([ours('SIGINT'), ours('SIGTERM'), ours('SIGHUP')]).toEqual([0, 0, 0]);

  process.emit('SIGTERM', 'SIGTERM');
  a(); // already run: nothing to unregister
  expect(ran).toHaveLength(3);
  expect(raised).toHaveLength(1);
});

test('an unregistered cleanup does not run; the last unregistration removes the handlers', () => {
  const ran: string[] = [];
  const a = registerSignalCleanup(['SIGINT', 'SIGHUP'], () => { ran.push('a'); });
  const b = registerSignalCleanup(['SIGINT'], () => { ran.push('b'); });
  expect([ours('SIGINT'), ours('SIGHUP')]).toEqual([1, 1]);
  a();
  a();
  expect([ours('SIGINT'), ours('SIGHUP')]).toEqual([1, 0]);
  b();
  expect([ours('SIGINT'), ours('SIGTERM'), ours('SIGHUP')]).toEqual([0, 0, 0]);

  const c = registerSignalCleanup(['SIGINT'], () => { ran.push('c'); });
  registerSignalCleanup(['SIGINT'], () => { ran.push('d'); })();
  process.emit('SIGINT', 'SIGINT');
  expect(ran).toEqual(['c']);
  expect(raised).toEqual([[process.pid, 'SIGINT']]);
  c();
  expect(ours('SIGINT')).toBe(0);
});

test('a cleanup not registered for the signal stays registered, with its own handler', () => {
  const ran: string[] = [];
  const a = registerSignalCleanup(['SIGINT', 'SIGTERM'], () => { ran.push('a'); });
  registerSignalCleanup(['SIGINT', 'SIGTERM', 'SIGHUP'], () => { ran.push('b'); });
  process.emit('SIGHUP', 'SIGHUP');
  expect(ran).toEqual(['b']);
  expect(raised).toEqual([[process.pid, 'SIGHUP']]);
  expect([ours('SIGINT'), ours('SIGTERM'), ours('SIGHUP')]).toEqual([1, 1, 0]);
  a();
  expect([ours('SIGINT'), ours('SIGTERM')]).toEqual([0, 0]);
});

test('an async cleanup is awaited before the older ones and the end; signals meanwhile are swallowed', async () => {
  const ran: string[] = [];
  let finish = (): void => undefined;
  registerSignalCleanup(['SIGINT', 'SIGTERM'], () => { ran.push('a'); });
  registerSignalCleanup(['SIGINT', 'SIGTERM'], () => { ran.push('b start'); return new Promise<void>((r) => { finish = r; }).then(() => { ran.push('b end'); }); });

  process.emit('SIGTERM', 'SIGTERM');
  process.emit('SIGINT', 'SIGINT');
  await new Promise((r) => setImmediate(r));
  expect(ran).toEqual(['b start']);
  expect(raised).toEqual([]);
  // Still listening, so a second signal cannot take the default action half-way through.
  expect([ours('SIGINT'), ours('SIGTERM')]).toEqual([1, 1]);

  finish();
  await new Promise((r) => setImmediate(r));
  expect(ran).toEqual(['b start', 'b end', 'a']);
  expect(raised).toEqual([[process.pid, 'SIGTERM']]);
  expect([ours('SIGINT'), ours('SIGTERM')]).toEqual([0, 0]);
});

test('a failing cleanup is reported and does not keep the others from running or the process from ending', async () => {
  const ran: string[] = [];
  registerSignalCleanup(['SIGTERM'], () => { ran.push('a'); });
  registerSignalCleanup(['SIGTERM'], () => Promise.reject(new Error('EACCES on /scratch')));
  registerSignalCleanup(['SIGTERM'], () => { throw new Error('EBUSY on /out'); });
  process.emit('SIGTERM', 'SIGTERM');
  await new Promise((r) => setImmediate(r));
  expect(ran).toEqual(['a']);
  expect(stderr).toBe('\ntfjs-mbq: interrupted by SIGTERM; a cleanup failed: EBUSY on /out\n\ntfjs-mbq: interrupted by SIGTERM; a cleanup failed: EACCES on /scratch\n');
  expect(raised).toEqual([[process.pid, 'SIGTERM']]);
  expect(ours('SIGTERM')).toBe(0);
});
