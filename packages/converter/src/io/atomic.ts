/**
 * Atomic output: everything is written into a temporary sibling directory that is renamed onto
 * the output path only when complete. An interrupted conversion removes the temporary directory.
 */
import { promises as fs, rmSync, realpathSync } from 'node:fs';
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

const live = new Set<AtomicOutputDir>();
let handlersInstalled = false;

function onSignal(signal: NodeJS.Signals): void {
  for (const d of live) {
    try { rmSync(d.tempDir, { recursive: true, force: true }); } catch { /* best effort on the way out */ }
    process.stderr.write(`\ntfjs-mbq: interrupted by ${signal}; removed the partial output ${d.tempDir}, nothing was written to ${d.outDir}\n`);
  }
  live.clear();
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

export class AtomicOutputDir {
  private constructor(readonly outDir: string, readonly tempDir: string) {}

  /** Creates the temporary sibling directory (the parent of `outDir` must exist or is created). */
  static async create(outDir: string, opts: { handleSignals?: boolean } = {}): Promise<AtomicOutputDir> {
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
    const dir = new AtomicOutputDir(out, temp);
    live.add(dir);
    if (opts.handleSignals && !handlersInstalled) {
      handlersInstalled = true;
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }
    return dir;
  }

  async writeFile(rel: string, data: string | Uint8Array): Promise<void> {
    const target = path.join(this.tempDir, rel);
    try {
      await fs.writeFile(target, data);
    } catch (e) {
      throw writeError(e, path.join(this.outDir, rel));
    }
  }

  /** Moves the finished directory into place, replacing a previous conversion if there is one. */
  async commit(): Promise<void> {
    let old: string | undefined;
    try {
      try {
        await fs.access(this.outDir);
        old = `${this.tempDir}.old`;
        await fs.rename(this.outDir, old);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      await fs.rename(this.tempDir, this.outDir);
    } catch (e) {
      if (old) await fs.rename(old, this.outDir).catch(() => undefined);
      await this.abort();
      throw writeError(e, this.outDir);
    }
    live.delete(this);
    if (old) await fs.rm(old, { recursive: true, force: true });
  }

  async abort(): Promise<void> {
    live.delete(this);
    await fs.rm(this.tempDir, { recursive: true, force: true }).catch(() => undefined);
  }
}
