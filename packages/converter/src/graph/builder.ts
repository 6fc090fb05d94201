/**
 * Builds a tfjs graph model (`model.json` in the `graph-model` format plus weight shards) node
 * by node (reading one back is loadModelDir's job). Every Const's data goes into the shards, so the
 * GraphDef holds only structure; tfjs-converter looks Const values up by node name.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AttrValueJson, DataTypeName, GraphDefJson, ModelJson, NodeDefJson, WeightDtype, WeightEntryJson } from './types.js';

export type ConstData = Float32Array | Int32Array;

export interface WeightTensor {
  name: string;
  shape: number[];
  dtype: WeightDtype;
  data: Float32Array | Int32Array;
}

const DT: Record<'float32' | 'int32', DataTypeName> = { float32: 'DT_FLOAT', int32: 'DT_INT32' };

export const attr = {
  type: (dtype: 'float32' | 'int32'): AttrValueJson => ({ type: DT[dtype] }),
  bool: (b: boolean): AttrValueJson => ({ b }),
  int: (i: number): AttrValueJson => ({ i: String(i) }),
  float: (f: number): AttrValueJson => ({ f }),
  shape: (dims: number[]): AttrValueJson => ({ shape: { dim: dims.map((d) => ({ size: String(d) })) } }),
};

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export class GraphBuilder {
  private readonly nodes: NodeDefJson[] = [];
  private readonly names = new Set<string>();
  private readonly weights: WeightTensor[] = [];

  private add(node: NodeDefJson): string {
    if (this.names.has(node.name)) throw new Error(`GraphBuilder: duplicate node name '${node.name}'`);
    for (const input of node.input ?? []) {
      const src = input.replace(/^\^/, '').replace(/:\d+$/, '');
      if (!this.names.has(src)) throw new Error(`GraphBuilder: node '${node.name}' (${node.op}) reads '${input}', which is not defined yet`);
    }
    this.names.add(node.name);
    this.nodes.push(node);
    return node.name;
  }

  has(name: string): boolean {
    return this.names.has(name);
  }

  placeholder(name: string, dtype: 'float32' | 'int32', shape: number[]): string {
    return this.add({ name, op: 'Placeholder', attr: { dtype: attr.type(dtype), shape: attr.shape(shape) } });
  }

  /** A Const node whose value is stored in the weight shards. */
  constant(name: string, data: ConstData, shape: number[], dtype: 'float32' | 'int32' = data instanceof Int32Array ? 'int32' : 'float32'): string {
    if (product(shape) !== data.length) throw new Error(`GraphBuilder: const '${name}' has ${data.length} values for shape [${shape.join(', ')}]`);
    if ((dtype === 'int32') !== data instanceof Int32Array) throw new Error(`GraphBuilder: const '${name}' data does not match dtype ${dtype}`);
    this.declareConstant(name, shape, dtype);
    this.weights.push({ name, shape: shape.slice(), dtype, data });
    return name;
  }

  /**
   * A Const node whose data the caller writes into the shards itself (a streaming writer that
   * reads each weight only when it writes it); `constants()` does not list it.
   */
  declareConstant(name: string, shape: number[], dtype: 'float32' | 'int32'): string {
    return this.add({
      name,
      op: 'Const',
      attr: { dtype: attr.type(dtype), value: { tensor: { dtype: DT[dtype], tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } } },
    });
  }

  /** The Consts given with their data (`constant`), in creation order. */
  constants(): readonly WeightTensor[] {
    return this.weights;
  }

  /** Any other node; `attrs` as in a GraphDef (use the `attr` helpers). */
  op(name: string, op: string, inputs: string[], attrs: Record<string, AttrValueJson> = {}): string {
    return this.add({ name, op, input: inputs.slice(), attr: attrs });
  }

  graph(): GraphDefJson {
    return { node: this.nodes.map((n) => ({ ...n })), versions: { producer: 1 } };
  }

  /** The model.json object and its shards (at most `shardBytes` each, split between tensors). */
  build(shardBytes = 4 * 1024 * 1024): { modelJson: ModelJson; shards: Uint8Array[] } {
    return packModel(this.graph(), this.weights, shardBytes);
  }

  async write(dir: string, shardBytes?: number): Promise<ModelJson> {
    const { modelJson, shards } = this.build(shardBytes);
    await writeGraphModel(dir, modelJson, shards);
    return modelJson;
  }
}

/** Lays weights out in order into shards named group1-shard{i}of{n}.bin. */
function packModel(graph: GraphDefJson, weights: readonly WeightTensor[], shardBytes = 4 * 1024 * 1024): { modelJson: ModelJson; shards: Uint8Array[] } {
  const entries: WeightEntryJson[] = weights.map((w) => ({ name: w.name, shape: w.shape.slice(), dtype: w.dtype }));
  const total = weights.reduce((s, w) => s + w.data.byteLength, 0);
  const all = new Uint8Array(total);
  let offset = 0;
  for (const w of weights) {
    all.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength), offset);
    offset += w.data.byteLength;
  }
  const shards: Uint8Array[] = [];
  for (let start = 0; start < total || shards.length === 0; start += shardBytes) shards.push(all.slice(start, Math.min(total, start + shardBytes)));
  const paths = shards.map((_, i) => `group1-shard${i + 1}of${shards.length}.bin`);
  return {
    modelJson: { format: 'graph-model', generatedBy: 'tfjs-mbq', convertedBy: 'tfjs-mbq GraphBuilder', modelTopology: graph, weightsManifest: [{ paths, weights: entries }] },
    shards,
  };
}

/** Writes model.json and its shards; each file goes to a temporary name first, then is renamed. */
async function writeGraphModel(dir: string, modelJson: ModelJson, shards: readonly Uint8Array[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const paths = modelJson.weightsManifest.flatMap((g) => g.paths);
  if (paths.length !== shards.length) throw new Error(`writeGraphModel: ${paths.length} shard paths for ${shards.length} shards`);
  const put = async (file: string, data: Uint8Array | string): Promise<void> => {
    const target = join(dir, file);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(`${target}.tmp`, data);
    await rename(`${target}.tmp`, target);
  };
  for (let i = 0; i < shards.length; i++) await put(paths[i]!, shards[i]!);
  await put('model.json', JSON.stringify(modelJson));
}
