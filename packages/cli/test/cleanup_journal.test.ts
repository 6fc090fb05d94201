/**
 * The shared-memory journal between a conversion's worker thread and the main thread
 * (src/worker/cleanup_journal.ts, issue 15 §3): the main thread reads what the worker announced
 * through a second view of the same memory, a commit and an interruption exclude each other, and
 * the line an interruption prints names what was removed.
 */
import { CleanupJournal } from '../src/worker/cleanup_journal.js';
import { interruptedLine } from '../src/worker/supervise.js';

test('the main thread reads the staged directories and committed outputs through the shared buffer', () => {
  const worker = new CleanupJournal();
  const main = new CleanupJournal(worker.buffer);
  expect(main.read()).toEqual({ staged: [], committed: [] });
  worker.staged('/o/.q.tmp-1', '/o/q');
  worker.staged('/tmp/w-1');
  expect(main.read()).toEqual({ staged: [{ dir: '/o/.q.tmp-1', outDir: '/o/q' }, { dir: '/tmp/w-1' }], committed: [] });
  expect(worker.enterCommit()).toBe(true);
  worker.unstaged('/o/.q.tmp-1');
  worker.leaveCommit('/o/q', true);
  expect(main.read()).toEqual({ staged: [{ dir: '/tmp/w-1' }], committed: ['/o/q'] });
});

test('an interruption waits for a commit under way, and no commit starts once it has begun', () => {
  const worker = new CleanupJournal();
  const main = new CleanupJournal(worker.buffer);
  expect(worker.enterCommit()).toBe(true);
  expect(main.claimStop()).toBe(false);
  worker.leaveCommit('/o/q', false);
  expect(main.claimStop()).toBe(true);
  expect(main.claimStop()).toBe(true);
  expect(worker.enterCommit()).toBe(false);
});

test('the interruption line says what was removed, or that the output is complete, or that nothing was on disk', () => {
  expect(interruptedLine('SIGTERM', '/o/q', { staged: [{ dir: '/o/.q.tmp-1', outDir: '/o/q' }, { dir: '/o/.q.import-2' }], committed: [] }))
    .toBe('tfjs-mbq: interrupted by SIGTERM; removed the partial output /o/.q.tmp-1, nothing was written to /o/q');
  expect(interruptedLine('SIGINT', '/o/q', { staged: [], committed: ['/o/q'] }))
    .toBe('tfjs-mbq: interrupted by SIGINT; the output /o/q was already complete and is kept');
  expect(interruptedLine('SIGINT', '/o/q', { staged: [{ dir: '/o/.q.import-2' }], committed: [] }))
    .toBe('tfjs-mbq: interrupted by SIGINT; no partial output of /o/q was on disk, nothing left behind');
  // Paths come from the user: printed escaped.
  expect(interruptedLine('SIGINT', '/o/q\x1b[2J', { staged: [], committed: [] })).not.toContain('\x1b');
});
