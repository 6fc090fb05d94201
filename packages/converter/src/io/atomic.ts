/**
 * Atomic output: everything is written into a temporary directory that is moved into place only
 * when complete. A new output directory is the temporary one renamed; an existing one (refused
 * unless `overwrite`) keeps every file the conversion does not write, and only our files are
 * swapped in, each by a rename. An interrupted or failed conversion leaves the output as it was.
 */
import { promises as nodeFs, rmSync, renameSync, realpathSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { ConversionError } from './errors.js';
import { cleanupObserver } from './cleanup_observer.js';
import { registerSignalCleanup } from './signal_cleanup.js';

function realOrResolved(p: string): string {
  const abs = path.resolve(p);
  // Resolve links of the longest existing prefix so `out` cannot sneak into the input through one.
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      return path.join(realpathSync(head), ...tail.reverse());
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return abs;
      tail.push(path.basename(head));
      head = parent;
    }
  }
}

/** Refuses an output path equal to, or inside, the input directory (or one that contains it). */
export function checkOutputPath(inputDir: string, outDir: string): void {
  const input = realOrResolved(inputDir);
  const out = realOrResolved(outDir);
  const rel = path.relative(input, out);
  if (rel === '') throw new ConversionError('OUTPUT_PATH', `output path ${outDir} is the input directory; choose another --out (the input is never modified)`, outDir);
  if (!rel.startsWith('..') && !path.isAbsolute(rel)) {
    throw new ConversionError('OUTPUT_PATH', `output path ${outDir} is inside the input directory ${inputDir}; choose a path outside it (the input is never modified)`, outDir);
  }
  const back = path.relative(out, input);
  if (!back.startsWith('..') && !path.isAbsolute(back)) {
    throw new ConversionError('OUTPUT_PATH', `output path ${outDir} contains the input directory ${inputDir}; replacing it would destroy the input`, outDir);
  }
}

function writeError(e: unknown, target: string): ConversionError {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOSPC' ? 'no space left on device'
    : err.code === 'EACCES' || err.code === 'EPERM' ? 'permission denied (read-only location?)'
    : err.code === 'EROFS' ? 'read-only file system'
    : err.code === 'EDQUOT' ? 'disk quota exceeded'
    : err.code === 'ENOTDIR' ? 'not a directory'
    : err.message;
  return new ConversionError('WRITE', `${target}: cannot write output (${why})`, target);
}

/**
 * The file operations the output directory uses. Tests pass a wrapper that fails some of them
 * (ENOSPC, EROFS) to check what a full or read-only location does; the default is node:fs.
 */
export type OutputFs = Pick<typeof nodeFs, 'mkdir' | 'stat' | 'readdir' | 'readFile' | 'writeFile' | 'rename' | 'rm'>;

/** Weight shards as tfjs (and our emitter) name them; only such names are removed as a previous conversion's shards. */
const SHARD_NAME = /^group\d+-shard\d+of\d+\.bin$/;

/** Temporary directories not yet committed or removed. */
const live = new Set<AtomicOutputDir>();
/** Output paths of the conversions that asked for signal cleanup (a path may be listed twice). */
const guarded: string[] = [];
let unregisterCleanup: (() => void) | undefined;
/**
 * The signals a guarded conversion cleans up on (io/signal_cleanup.ts ends the process by them):
 * Ctrl-C, kill, and the terminal closing under a conversion or import started from it.
 */
const GUARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function removePartialOutputs(signal: NodeJS.Signals): void {
  const said = new Set<string>();
  for (const d of live) {
    const restored = d.rollbackSync();
    process.stderr.write(`\ntfjs-mbq: interrupted by ${signal}; removed the partial output ${d.tempDir}, ${restored ? `put back the files it had replaced in ${d.outDir}` : `nothing was written to ${d.outDir}`}\n`);
    said.add(d.outDir);
  }
  live.clear();
  for (const out of new Set(guarded)) {
    if (!said.has(out)) process.stderr.write(`\ntfjs-mbq: interrupted by ${signal}; no partial output of ${out} was on disk, nothing left behind\n`);
  }
}

/**
 * From now until the returned release is called, SIGINT, SIGTERM and SIGHUP remove the partial
 * output of the conversion into `outDir`, say so on stderr and end the process by the signal (exit
 * status 130 / 143 / 129 in a shell). With no conversion guarded the cleanup is unregistered again, so a
 * library user keeps the default behaviour.
 */
export function guardSignals(outDir: string): () => void {
  const out = path.resolve(outDir);
  if (guarded.length === 0) unregisterCleanup = registerSignalCleanup(GUARDED_SIGNALS, removePartialOutputs);
  guarded.push(out);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    guarded.splice(guarded.indexOf(out), 1);
    if (guarded.length === 0) unregisterCleanup?.();
  };
}

/**
 * A directory made with mode 0777, so the user's umask decides (mkdtemp makes 0700), announced to
 * the cleanup observer (io/cleanup_observer.ts) before it is made.
 */
async function makeTempDir(fs: OutputFs, where: string, prefix: string, outDir: string): Promise<string> {
  for (;;) {
    const dir = path.join(where, `${prefix}${randomBytes(6).toString('hex')}`);
    cleanupObserver()?.staged(dir, outDir);
    try {
      await fs.mkdir(dir, { mode: 0o777 });
      return dir;
    } catch (e) {
      cleanupObserver()?.unstaged(dir);
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw writeError(e, where);
    }
  }
}

/**
 * Refuses an output path that is not a directory, or a non-empty directory without `overwrite`;
 * resolves to whether it exists. Cheap: the converter calls it before any work starts.
 */
export async function checkOutputDir(outDir: string, opts: Pick<OutputDirOptions, 'overwrite' | 'offersOverwrite' | 'fs'> = {}): Promise<boolean> {
  const fs = opts.fs ?? nodeFs;
  const out = path.resolve(outDir);
  try {
    const st = await fs.stat(out);
    if (!st.isDirectory()) throw new ConversionError('OUTPUT_PATH', `output path ${out} exists and is not a directory`, out);
    const entries = await fs.readdir(out);
    if (entries.length > 0 && !opts.overwrite) {
      const shown = entries.sort().slice(0, 3).join(', ') + (entries.length > 3 ? ', ...' : '');
      const or = opts.offersOverwrite === false ? '' : ', or give --overwrite to replace the files a conversion writes there (other files are kept)';
      throw new ConversionError('OUTPUT_PATH', `output path ${out} is not empty (${shown}); choose an empty or new directory${or}`, out);
    }
    return true;
  } catch (e) {
    if (e instanceof ConversionError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw writeError(e, await fileOnPath(fs, out));
    throw writeError(e, out);
  }
}

/** The nearest existing ancestor of `p` (on ENOTDIR: the file standing where a directory should be). */
async function fileOnPath(fs: OutputFs, p: string): Promise<string> {
  for (let dir = path.dirname(p); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      await fs.stat(dir);
      return dir;
    } catch { /* not there either: go up */ }
  }
  return p;
}

export interface OutputDirOptions {
  /** Guard this output against SIGINT/SIGTERM/SIGHUP until commit or abort (see guardSignals). */
  handleSignals?: boolean;
  /**
   * Write into an existing non-empty directory: the files this conversion writes (and the shards
   * of a previous conversion there) are replaced; every other file is kept. Without it such a
   * directory is refused.
   */
  overwrite?: boolean;
  /** Whether the command has an --overwrite option for the refusal to point to (default true; `import` has none). */
  offersOverwrite?: boolean;
  /** File operations (default node:fs; tests inject ENOSPC / EROFS). */
  fs?: OutputFs;
}

export class AtomicOutputDir {
  /** During a commit into an existing directory: names moved aside into `backupDir`, and names moved in. */
  private movedAside: string[] = [];
  private movedIn: string[] = [];
  private releaseSignals: (() => void) | undefined;

  private constructor(
    readonly outDir: string,
    readonly tempDir: string,
    /** true: `outDir` existed, files are swapped in one by one; false: `tempDir` is renamed to `outDir`. */
    private readonly intoExisting: boolean,
    private readonly fs: OutputFs,
  ) {}

  /** Where the files being replaced wait during a commit into an existing directory (next to tempDir). */
  private get backupDir(): string { return `${this.tempDir}.replaced`; }

  /**
   * Creates the temporary directory: a sibling of a new `outDir` (its parent is created if
   * missing), or a hidden directory inside an existing one (same file system, so renames work
   * even when `outDir` is a mount point). An existing non-empty `outDir` needs `overwrite`.
   */
  static async create(outDir: string, opts: OutputDirOptions = {}): Promise<AtomicOutputDir> {
    const fs = opts.fs ?? nodeFs;
    const out = path.resolve(outDir);
    const parent = path.dirname(out);
    try {
      await fs.mkdir(parent, { recursive: true });
    } catch (e) {
      throw writeError(e, parent);
    }
    const exists = await checkOutputDir(out, opts);
    const temp = exists
      ? await makeTempDir(fs, out, '.tfjs-mbq.tmp-', out)
      : await makeTempDir(fs, parent, `.${path.basename(out)}.tmp-`, out);
    const dir = new AtomicOutputDir(out, temp, exists, fs);
    live.add(dir);
    if (opts.handleSignals) dir.releaseSignals = guardSignals(out);
    return dir;
  }

  async writeFile(rel: string, data: string | Uint8Array): Promise<void> {
    if (rel.includes('/') || rel.includes(path.sep) || rel.startsWith('.')) throw new Error(`AtomicOutputDir: "${rel}" is not a plain file name`);
    const target = path.join(this.tempDir, rel);
    try {
      await this.fs.writeFile(target, data);
    } catch (e) {
      throw writeError(e, path.join(this.outDir, rel));
    }
  }

  /**
   * Moves the finished output into place; on failure the output directory is left as it was. A
   * cleanup observer that has begun an interruption refuses the commit (INTERRUPTED); one that
   * allowed it is told when it ends.
   */
  async commit(): Promise<void> {
    const observer = cleanupObserver();
    if (observer && !observer.enterCommit(this.outDir)) {
      throw new ConversionError('INTERRUPTED', `${this.outDir}: interrupted before the output was moved into place`, this.outDir);
    }
    let committed = false;
    try {
      await this.commitFiles();
      committed = true;
    } finally {
      observer?.leaveCommit(this.outDir, committed);
    }
  }

  private async commitFiles(): Promise<void> {
    try {
      if (this.intoExisting) await this.swapIn();
      else await this.fs.rename(this.tempDir, this.outDir);
    } catch (e) {
      const allBack = await this.rollback();
      await this.abort();
      const err = writeError(e, this.outDir);
      if (!allBack) err.message += `; the files it had replaced could not all be put back and are kept in ${this.backupDir}`;
      throw err;
    }
    live.delete(this);
    this.releaseSignals?.();
    if (this.intoExisting) {
      await this.fs.rm(this.tempDir, { recursive: true, force: true });
      await this.fs.rm(this.backupDir, { recursive: true, force: true });
    }
    cleanupObserver()?.unstaged(this.tempDir);
  }

  async abort(): Promise<void> {
    live.delete(this);
    this.releaseSignals?.();
    const removed = await this.fs.rm(this.tempDir, { recursive: true, force: true }).then(() => true, () => false);
    if (removed) cleanupObserver()?.unstaged(this.tempDir);
  }

  /**
   * Shards listed by the model.json being replaced, when a conversion wrote it (it carries the
   * converter's `userDefinedMetadata.mbq`): they would be left unreferenced. Other files stay.
   */
  private async previousShards(): Promise<string[]> {
    let json: { userDefinedMetadata?: { mbq?: unknown }; weightsManifest?: Array<{ paths?: unknown }> };
    try {
      json = JSON.parse(String(await this.fs.readFile(path.join(this.outDir, 'model.json'), 'utf8'))) as typeof json;
    } catch {
      return [];
    }
    if (typeof json?.userDefinedMetadata?.mbq !== 'object' || !Array.isArray(json.weightsManifest)) return [];
    return json.weightsManifest.flatMap((g) => (Array.isArray(g?.paths) ? g.paths : []))
      .filter((p): p is string => typeof p === 'string' && SHARD_NAME.test(p));
  }

  private async swapIn(): Promise<void> {
    // Everything in the temporary directory is ours: writeFile's, and what a writer put in tempDir itself (the importer's shards).
    const ours = (await this.fs.readdir(this.tempDir)).sort();
    const replaced = [...new Set([...ours, ...(ours.includes('model.json') ? await this.previousShards() : [])])];
    await this.fs.mkdir(this.backupDir);
    for (const name of replaced) {
      try {
        await this.fs.rename(path.join(this.outDir, name), path.join(this.backupDir, name));
        this.movedAside.push(name);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    for (const name of ours) {
      await this.fs.rename(path.join(this.tempDir, name), path.join(this.outDir, name));
      this.movedIn.push(name);
    }
  }

  /** Undoes a partial swap; false if some replaced file could not be put back (it stays in backupDir). */
  private async rollback(): Promise<boolean> {
    let allBack = true;
    for (const name of this.movedIn.splice(0)) await this.fs.rm(path.join(this.outDir, name), { force: true }).catch(() => { allBack = false; });
    for (const name of this.movedAside.splice(0)) {
      await this.fs.rename(path.join(this.backupDir, name), path.join(this.outDir, name)).catch(() => { allBack = false; });
    }
    if (allBack && this.intoExisting) await this.fs.rm(this.backupDir, { recursive: true, force: true }).catch(() => undefined);
    return allBack;
  }

  /** The signal path of rollback + abort (synchronous: the process ends right after). Returns whether files were put back. */
  rollbackSync(): boolean {
    const restored = this.movedAside.length > 0 || this.movedIn.length > 0;
    for (const name of this.movedIn.splice(0)) try { rmSync(path.join(this.outDir, name), { force: true }); } catch { /* best effort on the way out */ }
    let allBack = true;
    for (const name of this.movedAside.splice(0)) try { renameSync(path.join(this.backupDir, name), path.join(this.outDir, name)); } catch { allBack = false; }
    try { rmSync(this.tempDir, { recursive: true, force: true }); } catch { /* best effort on the way out */ }
    if (allBack && this.intoExisting) try { rmSync(this.backupDir, { recursive: true, force: true }); } catch { /* best effort on the way out */ }
    return restored;
  }
}
