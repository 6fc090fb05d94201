/**
 * Atomic output: everything is written into a temporary sibling directory that is renamed onto
 * the output path only when complete. An interrupted conversion removes the temporary directory.
 */
import { promises as nodeFs, rmSync, renameSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { ConversionError } from './errors.js';

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
    : err.message;
  return new ConversionError('WRITE', `${target}: cannot write output (${why})`, target);
}

/**
 * The file operations the output directory uses. Tests pass a wrapper that fails some of them
 * (ENOSPC, EROFS) to check what a full or read-only location does; the default is node:fs.
 */
export type OutputFs = Pick<typeof nodeFs, 'mkdir' | 'mkdtemp' | 'stat' | 'readdir' | 'writeFile' | 'access' | 'rename' | 'rm'>;

/** Temporary directories not yet committed or removed. */
const live = new Set<AtomicOutputDir>();
/** Output paths of the conversions that asked for signal cleanup (a path may be listed twice). */
const guarded: string[] = [];

function onSignal(signal: NodeJS.Signals): void {
  const said = new Set<string>();
  for (const d of live) {
    try { rmSync(d.tempDir, { recursive: true, force: true }); } catch { /* best effort on the way out */ }
    // Interrupted between moving a previous conversion aside and moving the new one in: put it back.
    if (d.previous) try { renameSync(d.previous, d.outDir); } catch { /* best effort on the way out */ }
    process.stderr.write(`\ntfjs-mbq: interrupted by ${signal}; removed the partial output ${d.tempDir}, nothing was written to ${d.outDir}\n`);
    said.add(d.outDir);
  }
  live.clear();
  for (const out of new Set(guarded)) {
    if (!said.has(out)) process.stderr.write(`\ntfjs-mbq: interrupted by ${signal}; no partial output of ${out} was on disk, nothing left behind\n`);
  }
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

/**
 * From now until the returned release is called, SIGINT and SIGTERM remove the partial output of
 * the conversion into `outDir`, say so on stderr and exit (130 / 143). With no conversion guarded
 * the handlers are removed again, so a library user keeps the default behaviour.
 */
export function guardSignals(outDir: string): () => void {
  const out = path.resolve(outDir);
  if (guarded.length === 0) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  guarded.push(out);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    guarded.splice(guarded.indexOf(out), 1);
    if (guarded.length === 0) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  };
}

export class AtomicOutputDir {
  /** Where a previous conversion at `outDir` sits while the new one is moved in (commit). */
  previous: string | undefined;
  private releaseSignals: (() => void) | undefined;

  private constructor(readonly outDir: string, readonly tempDir: string, private readonly fs: OutputFs) {}

  /**
   * Creates the temporary sibling directory (the parent of `outDir` must exist or is created).
   * `handleSignals`: guard this output against SIGINT/SIGTERM until commit or abort (see guardSignals).
   */
  static async create(outDir: string, opts: { handleSignals?: boolean; fs?: OutputFs } = {}): Promise<AtomicOutputDir> {
    const fs = opts.fs ?? nodeFs;
    const out = path.resolve(outDir);
    const parent = path.dirname(out);
    try {
      await fs.mkdir(parent, { recursive: true });
    } catch (e) {
      throw writeError(e, parent);
    }
    try {
      const st = await fs.stat(out);
      if (!st.isDirectory()) throw new ConversionError('OUTPUT_PATH', `output path ${out} exists and is not a directory`, out);
      const entries = await fs.readdir(out);
      if (entries.length > 0 && !entries.includes('quantization.json')) {
        throw new ConversionError('OUTPUT_PATH', `output path ${out} exists, is not empty and is not a previous conversion; refusing to replace it`, out);
      }
    } catch (e) {
      if (e instanceof ConversionError) throw e;
    }
    let temp: string;
    try {
      temp = await fs.mkdtemp(path.join(parent, `.${path.basename(out)}.tmp-`));
    } catch (e) {
      throw writeError(e, parent);
    }
    const dir = new AtomicOutputDir(out, temp, fs);
    live.add(dir);
    if (opts.handleSignals) dir.releaseSignals = guardSignals(out);
    return dir;
  }

  async writeFile(rel: string, data: string | Uint8Array): Promise<void> {
    const target = path.join(this.tempDir, rel);
    try {
      await this.fs.writeFile(target, data);
    } catch (e) {
      throw writeError(e, path.join(this.outDir, rel));
    }
  }

  /** Moves the finished directory into place, replacing a previous conversion if there is one. */
  async commit(): Promise<void> {
    try {
      try {
        await this.fs.access(this.outDir);
        const old = `${this.tempDir}.old`;
        await this.fs.rename(this.outDir, old);
        this.previous = old;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      await this.fs.rename(this.tempDir, this.outDir);
    } catch (e) {
      let stranded: string | undefined;
      if (this.previous) {
        const old = this.previous;
        await this.fs.rename(old, this.outDir).catch(() => { stranded = old; });
      }
      this.previous = undefined;
      await this.abort();
      const err = writeError(e, this.outDir);
      if (stranded) err.message += `; the previous conversion is kept at ${stranded} (it could not be moved back)`;
      throw err;
    }
    const old = this.previous;
    this.previous = undefined;
    live.delete(this);
    this.releaseSignals?.();
    if (old) await this.fs.rm(old, { recursive: true, force: true });
  }

  async abort(): Promise<void> {
    live.delete(this);
    this.releaseSignals?.();
    await this.fs.rm(this.tempDir, { recursive: true, force: true }).catch(() => undefined);
  }
}
