/**
 * The architectures the importer knows, keyed by config.json `architectures[0]`. Each module keeps
 * all of its architecture's knowledge; the writer and the converter need nothing per architecture.
 */
import { ImportError } from '../errors.js';
import type { Ops } from '../graph/ops.js';
import type { SafetensorsCheckpoint } from '../safetensors/index.js';
import { isRecord } from './config_fields.js';
import { LLAVA_ARCHITECTURE, llavaForward, llavaLayout, llavaUnusedTensor, llavaWeights, parseLlavaConfig } from './llava.js';
import { checkSourceShape, type WeightSpec } from './plan.js';

/** One checkpoint, planned: its weights and the graph that reads them. */
export interface ArchitecturePlan {
  architecture: string;
  weights: WeightSpec[];
  /** `pixel_values` is [1, H, W, 3] with these H, W. */
  imageSize: [number, number];
  imageTokenId: number;
  imageTokenCount: number;
  /** The longest sequence the graph's position tables cover. */
  maxSeq: number;
  vocab: number;
  bosTokenId?: number;
  eosTokenId?: number;
  padTokenId?: number;
  /** Builds the forward: pixels, ids -> logits, with the image tokens at [offset, offset + imageTokenCount). */
  forward<T>(o: Ops<T>, pixels: T, ids: T, imageTokenOffset: number): T;
}

interface Architecture {
  plan(config: Record<string, unknown>, configFile: string, ckpt: SafetensorsCheckpoint): ArchitecturePlan;
}

const llava: Architecture = {
  plan(config, file, ckpt) {
    const c = parseLlavaConfig(config, file);
    const layout = llavaLayout(ckpt, c.text.tieWordEmbeddings);
    const weights = llavaWeights(c, layout);
    checkCheckpoint(ckpt, weights, (name) => llavaUnusedTensor(c, layout, name));
    return {
      architecture: LLAVA_ARCHITECTURE, weights, imageSize: [c.vision.imageSize, c.vision.imageSize], imageTokenId: c.imageTokenId,
      imageTokenCount: c.imageTokenCount, maxSeq: c.text.maxSeq, vocab: c.text.vocab,
      bosTokenId: c.text.bosTokenId, eosTokenId: c.text.eosTokenId, padTokenId: c.text.padTokenId,
      forward: (o, pixels, ids, offset) => llavaForward(o, c, pixels, ids, offset),
    };
  },
};

const ARCHITECTURES: Readonly<Record<string, Architecture>> = { [LLAVA_ARCHITECTURE]: llava };
export const SUPPORTED_ARCHITECTURES: readonly string[] = Object.keys(ARCHITECTURES);

/** Every source tensor present with the shape the config implies; no tensor the architecture does not know. */
function checkCheckpoint(ckpt: SafetensorsCheckpoint, weights: readonly WeightSpec[], unused: (name: string) => boolean): void {
  const read = new Set<string>();
  for (const w of weights) {
    if (!ckpt.has(w.source)) throw new ImportError('TENSOR_NAME', `${ckpt.source}: tensor '${w.source}' is missing (needed for ${w.name})`, ckpt.source);
    checkSourceShape(ckpt, w);
    read.add(w.source);
  }
  const unexpected = ckpt.names().filter((n) => !read.has(n) && !unused(n)).sort();
  if (unexpected.length > 0) {
    const more = unexpected.length > 1 ? ` and ${unexpected.length - 1} more` : '';
    throw new ImportError('TENSOR_NAME', `${ckpt.entry(unexpected[0]!).file}: unexpected tensor '${unexpected[0]}'${more} (not part of the architecture as configured in config.json)`, ckpt.source);
  }
}

/** The architecture named in config.json, planned against the checkpoint; anything else is refused. */
export function planArchitecture(config: unknown, configFile: string, ckpt: SafetensorsCheckpoint): ArchitecturePlan {
  if (!isRecord(config)) throw new ImportError('CONFIG', `${configFile}: expected a JSON object`, configFile);
  const archs = config.architectures;
  if (!Array.isArray(archs) || archs.length !== 1 || typeof archs[0] !== 'string') {
    throw new ImportError('ARCHITECTURE', `${configFile}: "architectures" must name one architecture, got ${JSON.stringify(archs)} (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`, configFile);
  }
  const arch = ARCHITECTURES[archs[0]];
  if (!arch) throw new ImportError('ARCHITECTURE', `${configFile}: architecture ${archs[0]} is not supported (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`, configFile);
  return arch.plan(config, configFile, ckpt);
}
