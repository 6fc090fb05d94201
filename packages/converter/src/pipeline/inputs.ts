/**
 * What a search result depends on: the search options, the model and the calibration batch. A work
 * directory (resume) and a search file (--save-search / --apply-search) are refused for other inputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { LoadedModel } from '../io/load.js';
import type { CalibBatch } from '../calib/batch.js';
import type { QuantConfig } from '../search/types.js';
import type { ResolvedOptions } from '../options.js';
import { sha256, type WorkInputs } from '../io/work_dir.js';
import type { SearchInputs } from '../io/search_file.js';

function searchOptions(opts: ResolvedOptions, config: QuantConfig, batch: CalibBatch, keptFloat: readonly string[]): Record<string, unknown> {
  return {
    method: config.method, wBits: config.wBits, aBits: config.aBits ?? null, groupSize: config.groupSize, loss: config.loss,
    scaleFamily: config.scaleFamily ?? 'awq', distort: config.distort, rotate: opts.rotate, gridSize: config.gridSize,
    samples: batch.batch, seed: opts.seed,
    // Groups kept float are not searched: a run with other --include/--exclude has other results (absent when none, as before).
    ...(keptFloat.length ? { keptFloat } : {}),
  };
}

function calibrationSha256(batch: CalibBatch): string {
  return sha256(batch.inputIds, batch.pixels, batch.visionMask, batch.captionMask);
}

function shardPaths(model: LoadedModel): string[] {
  return model.modelJson.weightsManifest.flatMap((g) => g.paths);
}

/** A work directory's inputs: shards by size and modification time (hashing gigabytes at every start is too slow). */
export async function workInputs(opts: ResolvedOptions, config: QuantConfig, model: LoadedModel, batch: CalibBatch, keptFloat: readonly string[]): Promise<WorkInputs> {
  const shards = [];
  for (const p of shardPaths(model)) {
    const st = await fs.stat(path.join(model.dir, p));
    shards.push({ path: p, bytes: st.size, mtimeMs: st.mtimeMs });
  }
  return {
    backend: tf.getBackend(),
    options: searchOptions(opts, config, batch, keptFloat),
    model: { modelJsonSha256: sha256(await fs.readFile(path.join(model.dir, 'model.json'))), shards },
    calibrationSha256: calibrationSha256(batch),
  };
}

/** A search file's inputs: shards by content (the file may be applied to a copy of the model elsewhere). */
export async function searchInputs(opts: ResolvedOptions, config: QuantConfig, model: LoadedModel, batch: CalibBatch, keptFloat: readonly string[]): Promise<SearchInputs> {
  const shards = [];
  for (const p of shardPaths(model)) {
    const file = path.join(model.dir, p);
    const h = createHash('sha256');
    let bytes = 0;
    for await (const chunk of createReadStream(file)) {
      h.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    shards.push({ path: p, bytes, sha256: h.digest('hex') });
  }
  return {
    options: searchOptions(opts, config, batch, keptFloat),
    model: { modelJsonSha256: sha256(await fs.readFile(path.join(model.dir, 'model.json'))), shards },
    calibrationSha256: calibrationSha256(batch),
  };
}
