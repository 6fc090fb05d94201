/**
 * `import --fuse`: the imported graph rewritten by the converter's fuse pass (fuseDecoderOps, the one
 * implementation), so that a float import runs the same MbqRmsNorm / MbqSiluGate / MbqRope /
 * MbqAttention ops and merged qkv / gate-up linears as a model converted from it: a like-for-like
 * float baseline. The pass reads weights synchronously, so it runs on the unfused import as written
 * (a lazy map over its shards), each merged weight spilled to scratch as it is made; the fused
 * weights are then written in graph order, one at a time, stored as the import stores them.
 */
import { fuseDecoderOps, LazyWeightMap, loadModelDir, weightInfo, type FuseReport, type GraphDefJson, type WeightEntryJson } from '@tfjs-mbq/converter';
import { ShardWriter, appendHalf, float32Entry, shardNames, storedBytes, type StoredDtype } from './write/weights_file.js';

export interface FusedWeights {
  graph: GraphDefJson;
  entries: WeightEntryJson[];
  paths: string[];
  bytes: number;
  report: FuseReport;
}

/**
 * Fuses the import written (model.json + shards) in `unfusedDir` and writes the fused shards into
 * `outDir`. A weight keeps its storage; a merged one (new to the graph: the concatenation of
 * checkpoint weights) is stored as `dtype`, exactly, since its parts were.
 */
export async function writeFusedWeights(unfusedDir: string, outDir: string, dtype: StoredDtype, shardBytes: number): Promise<FusedWeights> {
  const m = await loadModelDir(unfusedDir, { requireSidecars: false, checkFinite: false });
  const stored = new Map(m.modelJson.weightsManifest.flatMap((g) => g.weights).map((e) => [e.name, e]));
  const fused = fuseDecoderOps(m.modelJson.modelTopology, m.weights, { spill: true });
  try {
    const entries: WeightEntryJson[] = [];
    let total = 0;
    for (const n of fused.graph.node) {
      if (n.op !== 'Const') continue;
      const info = weightInfo(fused.weights, n.name);
      if (!info) throw new Error(`import --fuse: Const '${n.name}' has no weight`);
      const count = info.shape.reduce((a, b) => a * b, 1);
      if (info.dtype === 'float32') {
        const was = stored.get(n.name);
        const half = was ? was.quantization?.dtype === 'float16' : dtype === 'float16';
        entries.push(float32Entry(n.name, info.shape, half));
        total += storedBytes(count, half ? 'float16' : 'float32');
      } else if (info.dtype === 'int32') {
        entries.push({ name: n.name, shape: [...info.shape], dtype: 'int32' });
        total += storedBytes(count, 'int32');
      } else {
        throw new Error(`import --fuse: Const '${n.name}' is ${info.dtype} (the importer writes float32 and int32 weights only)`);
      }
    }
    const paths = shardNames(total, shardBytes);
    const writer = new ShardWriter(outDir, paths, shardBytes);
    for (const e of entries) {
      const w = fused.weights.get(e.name)!;
      if (e.quantization?.dtype === 'float16') {
        // Values that were float16 already: re-encoding cannot overflow.
        const overflow = await appendHalf(writer, w.data as Float32Array);
        if (overflow >= 0) throw new Error(`import --fuse: '${e.name}' value ${overflow} does not fit float16`);
      } else {
        await writer.append(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
      }
    }
    const bytes = await writer.close();
    if (bytes !== total) throw new Error(`import --fuse: wrote ${bytes} weight bytes, expected ${total}`);
    return { graph: fused.graph, entries, paths, bytes, report: fused.report };
  } finally {
    if (fused.weights instanceof LazyWeightMap) fused.weights.dispose();
  }
}
