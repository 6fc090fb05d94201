/**
 * The weights of a Hugging Face checkpoint directory: `model.safetensors`, or the shards that
 * `model.safetensors.index.json` names. Every header is read and checked on open; tensor data
 * is read only when asked for, one tensor at a time. Every file is resolved (links included) and
 * must lie inside the directory (or a cache snapshot's blob store), and be a regular file.
 */
import { join } from 'node:path';
import { MAX_JSON_BYTES, SourceReadError, canonicalRelativePath, relativePathProblem } from '@tfjs-mbq/format';
import { readRegularFile, realPathInside } from '@tfjs-mbq/format/node';
import { checkpointRoots } from '../checkpoint_roots.js';
import { ImportError, type ImportErrorCode } from '../errors.js';
import { SafetensorsFile } from './file.js';
import type { TensorEntry } from './header.js';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

function indexError(file: string, msg: string): never {
  throw new ImportError('SAFETENSORS_INDEX', `${file}: ${msg}`, file);
}

/**
 * The real path of `rel` inside `dir` (or the other `roots`); undefined when it does not exist.
 * Outside (as written or through a link): an ImportError of `code`, naming the path as written.
 */
async function resolveInside(dir: string, rel: string, roots: readonly string[], code: ImportErrorCode, by?: string): Promise<string | undefined> {
  try {
    return await realPathInside(dir, rel, { alsoInside: roots });
  } catch (e) {
    if (!(e instanceof SourceReadError)) throw e;
    if (e.problem === 'not-found') return undefined;
    throw new ImportError(code, by ? `${by}: ${e.message}` : e.message, by ?? e.where);
  }
}

/** The tensor -> shard file map of an index file (at `real`, named `file`), each shard checked to lie inside `dir` as written. */
async function readIndex(file: string, real: string): Promise<Map<string, string>> {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await readRegularFile(real, MAX_JSON_BYTES, file)));
  } catch (e) {
    indexError(file, `cannot read the index as JSON (${(e as Error).message.replace(`${file}: `, '')})`);
  }
  const weightMap = (doc as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) indexError(file, 'has no "weight_map" object');
  const out = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '') indexError(file, `weight_map["${tensor}"] is not a file name`);
    if (relativePathProblem(shard) !== undefined || canonicalRelativePath(shard) === '') indexError(file, `shard "${shard}" (of tensor '${tensor}') is outside the checkpoint directory`);
    out.set(tensor, shard);
  }
  if (out.size === 0) indexError(file, 'weight_map is empty');
  return out;
}

export class SafetensorsCheckpoint {
  private constructor(
    readonly dir: string,
    /** The file that lists the tensors: the index, or the single file. */
    readonly source: string,
    private readonly files: Map<string, SafetensorsFile>,
    private readonly where: Map<string, SafetensorsFile>,
  ) {}

  /** Opens `dir`'s safetensors weights (index first, else `model.safetensors`); `chunkBytes` bounds each read (tests lower it). */
  static async open(dir: string, chunkBytes?: number): Promise<SafetensorsCheckpoint> {
    const index = join(dir, INDEX_FILE);
    const single = join(dir, SINGLE_FILE);
    const files = new Map<string, SafetensorsFile>();
    const where = new Map<string, SafetensorsFile>();
    const roots = await checkpointRoots(dir);
    try {
      const indexReal = await resolveInside(dir, INDEX_FILE, roots, 'SAFETENSORS_INDEX');
      if (indexReal !== undefined) {
        const map = await readIndex(index, indexReal);
        // One open per file, however many spellings (`a`, `./a`) name it.
        const byFile = new Map<string, SafetensorsFile>();
        for (const shard of new Set(map.values())) {
          const path = join(dir, shard);
          const real = await resolveInside(dir, shard, roots, 'SAFETENSORS_INDEX', index);
          if (real === undefined) throw new ImportError('SAFETENSORS_MISSING', `${index}: shard "${shard}" does not exist (${path})`, index);
          let f = byFile.get(real);
          if (!f) {
            f = await SafetensorsFile.open(path, chunkBytes, real);
            byFile.set(real, f);
          }
          files.set(shard, f);
        }
        for (const [tensor, shard] of map) {
          const f = files.get(shard)!;
          if (!f.header.tensors.has(tensor)) throw new ImportError('SAFETENSORS_INDEX', `${index}: tensor '${tensor}' is listed in "${shard}" but that file has no such tensor`, index);
          where.set(tensor, f);
        }
        return new SafetensorsCheckpoint(dir, index, files, where);
      }
      const singleReal = await resolveInside(dir, SINGLE_FILE, roots, 'SAFETENSORS_READ');
      if (singleReal !== undefined) {
        const f = await SafetensorsFile.open(single, chunkBytes, singleReal);
        files.set(SINGLE_FILE, f);
        for (const name of f.names()) where.set(name, f);
        return new SafetensorsCheckpoint(dir, single, files, where);
      }
    } catch (e) {
      await Promise.all([...new Set(files.values())].map((f) => f.close()));
      throw e;
    }
    throw new ImportError('SAFETENSORS_MISSING', `${dir}: no ${SINGLE_FILE} or ${INDEX_FILE} (only safetensors weights are read)`, dir);
  }

  names(): string[] {
    return [...this.where.keys()];
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  private file(name: string): SafetensorsFile {
    const f = this.where.get(name);
    if (!f) throw new ImportError('SAFETENSORS_MISSING', `${this.source}: no tensor named '${name}'`, this.source);
    return f;
  }

  entry(name: string): TensorEntry & { file: string } {
    const f = this.file(name);
    return { ...f.entry(name), file: f.path };
  }

  async readFloat32(name: string): Promise<Float32Array> {
    return this.file(name).readFloat32(name);
  }

  async forEachFloat32Chunk(name: string, fn: (values: Float32Array, firstElement: number) => void): Promise<void> {
    return this.file(name).forEachFloat32Chunk(name, fn);
  }

  async readInt32(name: string): Promise<Int32Array> {
    return this.file(name).readInt32(name);
  }

  async close(): Promise<void> {
    await Promise.all([...new Set(this.files.values())].map((f) => f.close()));
  }
}
