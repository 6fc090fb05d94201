/**
 * Reads the files of a model from a URL (fetch, browser or Node) or a local directory (Node).
 * A location is a directory-like base: `model.json`, `mbq.json`, ... are resolved against it.
 */

export type FetchLike = (url: string) => Promise<{ ok: boolean; status: number; statusText: string; arrayBuffer(): Promise<ArrayBuffer> }>;

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

function isUrl(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location) && !location.startsWith('file://');
}

/** Joins a base location and a relative file name with exactly one '/'. */
export function joinLocation(base: string, file: string): string {
  return `${base.replace(/\/+$/, '')}/${file.replace(/^\.?\/+/, '')}`;
}

/**
 * A location that names a graph file (`.../model.json`, as tfjs users write it for
 * `tf.loadGraphModel`) splits into its directory and that file; any other is the directory.
 */
export function splitModelLocation(location: string): { base: string; graphFile: string } {
  const m = /^(.*?)([^/\\]+\.json)$/i.exec(location);
  if (!m) return { base: location, graphFile: 'model.json' };
  const base = m[1]!.replace(/[/\\]+$/, '');
  return { base: base === '' ? '.' : base, graphFile: m[2]! };
}

export class ModelSource {
  constructor(
    /** Directory path (Node) or base URL of the model. */
    readonly location: string,
    // Wrapped: a detached window.fetch throws 'Illegal invocation'.
    private readonly fetchImpl: FetchLike | undefined = typeof fetch === 'function' ? (url) => fetch(url) : undefined,
  ) {}

  async bytes(file: string): Promise<Uint8Array> {
    const where = joinLocation(this.location, file);
    if (isUrl(this.location) || !isNode) {
      if (!this.fetchImpl) throw new Error(`${where}: no fetch() available to read it`);
      const res = await this.fetchImpl(where);
      if (!res.ok) throw new Error(`${where}: HTTP ${res.status} ${res.statusText}`);
      return new Uint8Array(await res.arrayBuffer());
    }
    const path = where.startsWith('file://') ? new URL(where).pathname : where;
    // A variable specifier keeps bundlers from pulling node:fs into browser builds.
    const fsName = 'node:fs/promises';
    const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
    try {
      return new Uint8Array(await fs.readFile(path));
    } catch (e) {
      throw new Error(`${path}: cannot read: ${(e as Error).message}`);
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
