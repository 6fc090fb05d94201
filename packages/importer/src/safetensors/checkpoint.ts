/**
 * The weights of a Hugging Face checkpoint directory: `model.safetensors`, or the shards that
 * `model.safetensors.index.json` names. Every header is read and checked on open; tensor data
 * is read only when asked for, one tensor at a time.
 */
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { ImportError } from '../errors.js';
import { SafetensorsFile } from './file.js';
import type { TensorEntry } from './header.js';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function indexError(file: string, msg: string): never {
  throw new ImportError('SAFETENSORS_INDEX', `${file}: ${msg}`, file);
}

/** The tensor -> shard file map of an index file, each shard checked to lie inside `dir`. */
async function readIndex(dir: string, file: string): Promise<Map<string, string>> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    indexError(file, `cannot read the index as JSON (${(e as Error).message})`);
  }
  const weightMap = (doc as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) indexError(file, 'has no "weight_map" object');
  const out = new Map<string, string>();
  const root = resolve(dir);
  for (const [tensor, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '') indexError(file, `weight_map["${tensor}"] is not a file name`);
    const rel = relative(root, resolve(root, shard));
    if (isAbsolute(shard) || rel.startsWith('..') || isAbsolute(rel) || rel === '') indexError(file, `shard "${shard}" (of tensor '${tensor}') is outside the checkpoint directory`);
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
    try {
      if (await exists(index)) {
        const map = await readIndex(dir, index);
        for (const shard of new Set(map.values())) {
          const path = join(dir, shard);
          if (!(await exists(path))) throw new ImportError('SAFETENSORS_MISSING', `${index}: shard "${shard}" does not exist (${path})`, index);
          files.set(shard, await SafetensorsFile.open(path, chunkBytes));
        }
        for (const [tensor, shard] of map) {
          const f = files.get(shard)!;
          if (!f.header.tensors.has(tensor)) throw new ImportError('SAFETENSORS_INDEX', `${index}: tensor '${tensor}' is listed in "${shard}" but that file has no such tensor`, index);
          where.set(tensor, f);
        }
        return new SafetensorsCheckpoint(dir, index, files, where);
      }
      if (await exists(single)) {
        const f = await SafetensorsFile.open(single, chunkBytes);
        files.set(SINGLE_FILE, f);
        for (const name of f.names()) where.set(name, f);
        return new SafetensorsCheckpoint(dir, single, files, where);
      }
    } catch (e) {
      await Promise.all([...files.values()].map((f) => f.close()));
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
    await Promise.all([...this.files.values()].map((f) => f.close()));
  }
}
