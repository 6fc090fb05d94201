/**
 * `import --fuse`: the imported graph rewritten by the converter's fuse pass (fuseDecoderOps, the one
 * implementation), so that a float import runs the same MbqRmsNorm / MbqSiluGate / MbqRopeAppendKv /
 * MbqAttention ops and merged qkv / gate-up linears as a model converted from it: a like-for-like
 * float baseline. The pass reads weights synchronously, so it runs on the unfused import as written
 * (a lazy map over its shards), each merged weight spilled to scratch as it is made; the fused
 * weights are then written in graph order, one at a time, stored as the import stores them.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AtomicOutputDir, checkOutputPath, fuseDecoderOps, LazyWeightMap, loadModelDir, signatureNodes, weightInfo,
  type FuseReport, type GraphDefJson, type ModelJson, type WeightEntryJson,
} from '@tfjs-mbq/converter';
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
  const fused = fuseDecoderOps(m.modelJson.modelTopology, m.weights, signatureNodes(m.modelJson.signature), { spill: true });
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
    const bytes = await writer.writeAll(async () => {
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
    });
    if (bytes !== total) throw new Error(`import --fuse: wrote ${bytes} weight bytes, expected ${total}`);
    return { graph: fused.graph, entries, paths, bytes, report: fused.report };
  } finally {
    if (fused.weights instanceof LazyWeightMap) fused.weights.dispose();
  }
}

/**
 * A float model directory (an import, a tfjs graph model) as a fused copy in `outDir` (written
 * atomically): its graph through the same pass, its other files copied. Merged weights are stored
 * as float16 when the source stores its weights so. `tfjs-mbq bench` makes its baseline with it.
 */
export async function fuseModelDir(srcDir: string, outDir: string, shardBytes = 4 * 1024 * 1024): Promise<{ outDir: string; report: FuseReport }> {
  checkOutputPath(srcDir, outDir);
  const source = JSON.parse(await readFile(join(srcDir, 'model.json'), 'utf8')) as ModelJson;
  const entries = source.weightsManifest.flatMap((g) => g.weights);
  const shards = new Set(source.weightsManifest.flatMap((g) => g.paths));
  const dtype: StoredDtype = entries.some((e) => e.quantization?.dtype === 'float16') ? 'float16' : 'float32';
  const out = await AtomicOutputDir.create(outDir);
  try {
    const f = await writeFusedWeights(srcDir, out.tempDir, dtype, shardBytes);
    await out.writeFile('model.json', JSON.stringify({ ...source, modelTopology: f.graph, weightsManifest: [{ paths: f.paths, weights: f.entries }] } satisfies ModelJson));
    for (const e of await readdir(srcDir, { withFileTypes: true })) {
      if (e.isFile() && e.name !== 'model.json' && !shards.has(e.name) && !e.name.startsWith('.')) await out.writeFile(e.name, await readFile(join(srcDir, e.name)));
    }
    await out.commit();
    return { outDir: out.outDir, report: f.report };
  } catch (e) {
    await out.abort();
    throw e;
  }
}
