/**
 * Reads the files of a model from a URL (fetch, browser or Node) or a local directory (Node),
 * through @tfjs-mbq/format's sources: files stay inside the model's directory or origin, are
 * regular files (on disk) of bounded size, and HTTP reads end at a time-out or an AbortSignal.
 */
// Node: node:fs through @tfjs-mbq/format/node; elsewhere: none (package.json "imports").
import { localSource } from '#local-source';
import { cachedSource, openModelCache, type ModelCacheOptions } from './model_cache.js';
import { fetchSource, isRemoteLocation, joinLocation, MAX_JSON_BYTES, SourceReadError, type FetchSourceOptions, type FileSource } from '@tfjs-mbq/format';

export type { FetchLike } from '@tfjs-mbq/format';

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** Options of how a model's files are read over HTTP (ignored for local directories). */
export interface SourceOptions extends FetchSourceOptions {
  /** Keep files read over HTTP in the Cache API and read them from there next time. */
  cache?: ModelCacheOptions;
}

/**
 * A location ending in `model.json` (as tfjs users write it for `tf.loadGraphModel`) is that
 * file's directory; any other location is the directory (or base URL) itself.
 */
export function splitModelLocation(location: string): { base: string; graphFile: 'model.json' } {
  const m = /^(?:(.*?)[/\\]+)?model\.json$/.exec(location);
  if (!m) return { base: location, graphFile: 'model.json' };
  return { base: m[1] || '.', graphFile: 'model.json' };
}

export class ModelSource {
  private fileSource: Promise<FileSource> | undefined;

  constructor(
    /** Directory path (Node), file:// URL (Node) or base URL of the model. */
    readonly location: string,
    private readonly options: SourceOptions = {},
  ) {}

  /** The format's source for this location (the file-system one only in Node). */
  source(): Promise<FileSource> {
    this.fileSource ??= (async () => {
      if (isRemoteLocation(this.location) || !isNode) {
        const remote = fetchSource(this.location, this.options);
        return this.options.cache ? cachedSource(remote, await openModelCache(this.options.cache)) : remote;
      }
      const dir = /^file:\/\//i.test(this.location) ? decodeURIComponent(new URL(this.location).pathname) : this.location;
      return localSource(dir);
    })();
    return this.fileSource;
  }

  async bytes(file: string, maxBytes = MAX_JSON_BYTES): Promise<Uint8Array> {
    const source = await this.source();
    try {
      return await source.read(file, maxBytes);
    } catch (e) {
      if (e instanceof SourceReadError) throw new Error(e.message);
      throw new Error(`${joinLocation(this.location, file)}: cannot read: ${(e as Error).message}`);
    }
  }

  async text(file: string): Promise<string> {
    return new TextDecoder().decode(await this.bytes(file));
  }

  async json<T>(file: string): Promise<T> {
    const text = await this.text(file);
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new Error(`${joinLocation(this.location, file)}: invalid JSON: ${(e as Error).message}`);
    }
  }
}
