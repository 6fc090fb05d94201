/**
 * The cleanup observer (io/cleanup_observer.ts, issue 15 §3): what a thread that ends a conversion
 * from outside learns. Directories are announced before they exist and withdrawn once gone or
 * committed; a commit asks first, and one refused leaves the output as it was.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtomicOutputDir, isConversionError, makeStagedDirSync, observeCleanup, removeStagedDir, type CleanupObserver } from '@tfjs-mbq/converter';
import { replaceFile } from '../src/io/replace_file.js';

/** Records every call; `allow` answers enterCommit. */
function recorder(allow = true): CleanupObserver & { log: string[]; live: Set<string> } {
  const log: string[] = [];
  const live = new Set<string>();
  return {
    log, live,
    staged(dir, outDir) { log.push(`staged ${existsSync(dir) ? 'existing' : 'new'} ${outDir ?? '-'}`); live.add(dir); },
    unstaged(dir) { log.push('unstaged'); live.delete(dir); },
    enterCommit(outDir) { log.push(`enter ${outDir}`); return allow; },
    leaveCommit(outDir, committed) { log.push(`leave ${outDir} ${committed}`); },
  };
}

let parent: string;
beforeEach(() => { parent = mkdtempSync(join(tmpdir(), 'mbq-observer-')); });
afterEach(() => { observeCleanup(undefined); rmSync(parent, { recursive: true, force: true }); });

test('a committed output: its temporary directory announced before it exists, withdrawn after the commit', async () => {
  const o = recorder();
  observeCleanup(o);
  const out = join(parent, 'q');
  const dir = await AtomicOutputDir.create(out);
  expect([...o.live]).toEqual([dir.tempDir]);
  await dir.writeFile('model.json', '{}');
  await dir.commit();
  expect(o.log).toEqual([`staged new ${out}`, `enter ${out}`, 'unstaged', `leave ${out} true`]);
  expect(o.live.size).toBe(0);
  expect(readdirSync(parent)).toEqual(['q']);
});

test('a refused commit moves nothing into place (INTERRUPTED); abort withdraws the directory', async () => {
  const o = recorder(false);
  observeCleanup(o);
  const out = join(parent, 'q');
  const dir = await AtomicOutputDir.create(out);
  await dir.writeFile('model.json', '{}');
  const err = await dir.commit().then(() => undefined, (e: unknown) => e);
  expect(isConversionError(err) && err.code).toBe('INTERRUPTED');
  expect(existsSync(out)).toBe(false);
  expect(o.log).toEqual([`staged new ${out}`, `enter ${out}`]);
  await dir.abort();
  expect(o.live.size).toBe(0);
  expect(readdirSync(parent)).toEqual([]);
});

test('a scratch directory: announced before mkdir, withdrawn when removed', async () => {
  const o = recorder();
  observeCleanup(o);
  const dir = makeStagedDirSync(parent, '.scratch-');
  expect(existsSync(dir)).toBe(true);
  expect([...o.live]).toEqual([dir]);
  await removeStagedDir(dir);
  expect(o.log).toEqual(['staged new -', 'unstaged']);
  expect(readdirSync(parent)).toEqual([]);
});

test('a replaced file (work-dir record, saved search): its temporary sibling staged while it exists, none left on failure', async () => {
  const o = recorder();
  observeCleanup(o);
  const file = join(parent, 'block-0000.json');
  await replaceFile(file, '{"a":1}', file);
  expect(readFileSync(file, 'utf8')).toBe('{"a":1}');
  expect(o.log).toEqual(['staged new -', 'unstaged']);
  expect(o.live.size).toBe(0);
  // A directory where the file should go: the rename fails, the temporary file goes, the error names the label.
  mkdirSync(join(parent, 'taken'));
  const err = await replaceFile(join(parent, 'taken'), '{}', '--save-search taken').then(() => undefined, (e: unknown) => e);
  expect(isConversionError(err) && [err.code, err.message.startsWith('--save-search taken: cannot write (')]).toEqual(['WRITE', true]);
  expect(o.live.size).toBe(0);
  expect(readdirSync(parent).sort()).toEqual(['block-0000.json', 'taken']);
});
