/**
 * Calibration data: manifest.jsonl + images -> token ids, pixels and the vision / caption masks
 * (docs/architecture.md, "Calibration / evaluation manifests"; docs/algorithm.md §2). A sequence is
 * the model's prompt for the question (no text for a caption) about the image, built by the
 * model's PromptBuilder, then the answer or caption, then EOS; the image goes through the model's
 * image processor into the graph's pixel_values (format's graphImage).
 */
import * as path from 'node:path';
import { graphImage, parseManifest, processedImageShape, type ManifestItem } from '@tfjs-mbq/format';
import { readDataFile } from '@tfjs-mbq/format/node';
import { ConversionError, fromFormatError } from '../io/errors.js';
import { decodeImage } from '../io/image_file.js';
import { promptCall, type CalibInputs } from './inputs.js';

export interface CalibSample {
  /** Manifest line (1-based) and image file, for messages and reports. */
  line: number;
  image: string;
  inputIds: Int32Array;
  /** The graph's pixel_values of the image, [H, W, 3] (mbq.json imageSize). */
  pixels: Float32Array;
  /** 1 where the position holds an image token. */
  visionMask: Uint8Array;
  /**
   * 1 where the position holds a supervised token: an answer / caption token or the closing EOS
   * (docs/algorithm.md §2: the reference's `labels != -100`). The logits one position earlier predict it.
   */
  captionMask: Uint8Array;
}

export interface CalibSet {
  dir: string;
  imageSize: [number, number];
  samples: CalibSample[];
  /** How many entries the manifest holds (before --samples selection). */
  available: number;
}

interface ManifestEntry { line: number; image: string; prompt: string; target: string }

/** mulberry32: a seeded stream, identical on every platform. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    let t = (state = (state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` indices of [0, n) chosen by a seeded shuffle, in increasing order. */
export function selectIndices(n: number, count: number, seed: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  if (count >= n) return idx;
  const rnd = seededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, count).sort((a, b) => a - b);
}

/** Manifest entries as prompt + target text (a caption has no prompt), by the format's one manifest reader. */
async function readManifest(root: string, file: string): Promise<ManifestEntry[]> {
  let items: ManifestItem[];
  try {
    items = parseManifest(new TextDecoder().decode(await readDataFile(root, 'manifest.jsonl', 'the calibration manifest')), file);
  } catch (e) {
    throw fromFormatError(e, 'CALIB_MANIFEST', 'CALIB_MANIFEST');
  }
  return items.map((it) => it.kind === 'caption'
    ? { line: it.line, image: it.image, prompt: '', target: it.caption }
    : { line: it.line, image: it.image, prompt: it.question, target: it.answer });
}

async function readImage(root: string, image: string, inputs: CalibInputs): Promise<Float32Array> {
  const file = path.join(root, image);
  // Inside the calibration directory after resolving links, a regular file, bounded (format's reader).
  let bytes: Uint8Array;
  try {
    bytes = await readDataFile(root, image, 'calibration image');
  } catch (e) {
    throw fromFormatError(e, 'CALIB_MANIFEST', 'CALIB_IMAGE');
  }
  const decoded = await decodeImage(bytes);
  if (typeof decoded === 'string') throw new ConversionError('CALIB_IMAGE', `${file}: cannot read calibration image (${decoded})`, file);
  try {
    return graphImage(decoded.bitmap, inputs.imageProcessor, inputs.imageInput, inputs.mbq.imageSize).data;
  } catch (e) {
    const err = fromFormatError(e);
    throw err instanceof ConversionError ? new ConversionError('CALIB_IMAGE', `${file}: ${err.message.replace(/^image: /, '')}`, file) : err;
  }
}

export interface CalibOptions {
  /** How many samples to use (default: all). */
  samples?: number;
  /** Seed of the shuffle that picks them (default 0). */
  seed?: number;
}

export async function loadCalibration(dir: string, inputs: CalibInputs, opts: CalibOptions = {}): Promise<CalibSet> {
  const root = path.resolve(dir);
  const manifest = path.join(root, 'manifest.jsonl');
  const entries = await readManifest(root, manifest);
  if (entries.length === 0) throw new ConversionError('CALIB_EMPTY', `${manifest}: the calibration set is empty (no samples)`, manifest);
  if (opts.samples !== undefined && (!Number.isInteger(opts.samples) || opts.samples < 1)) {
    throw new ConversionError('OPTION', `--samples must be a positive integer, got ${opts.samples}`);
  }
  const { prompter, mbq, maxSeq } = inputs;
  // The graph reads the image tokens at a fixed range, so every prompt is built for the image shape
  // of its fixed mode (graphImage makes every image give exactly that).
  const shape = processedImageShape(inputs.imageInput, mbq.imageSize);
  const chosen = selectIndices(entries.length, opts.samples ?? entries.length, opts.seed ?? 0);
  const samples: CalibSample[] = [];
  for (const i of chosen) {
    const e = entries[i];
    const where = `${manifest}:${e.line}`;
    const prompt = promptCall(() => prompter.prompt(e.prompt, shape, where), where, manifest);
    if (prompt.imageTokenOffset !== mbq.imageTokenOffset || prompt.imageTokenCount !== mbq.imageTokenCount) {
      throw new ConversionError('MBQ_JSON', `${where}: the prompt puts ${prompt.imageTokenCount} image tokens at ${prompt.imageTokenOffset}; mbq.json says ${mbq.imageTokenCount} at ${mbq.imageTokenOffset}`, manifest);
    }
    const target = promptCall(() => prompter.continuation(e.target, where), where, manifest);
    if (target.length === 0) throw new ConversionError('CALIB_MANIFEST', `${where}: empty answer/caption`, manifest);
    const ids = [...prompt.ids, ...target, prompter.eosTokenId];
    if (maxSeq !== undefined && ids.length > maxSeq) {
      throw new ConversionError('CALIB_MANIFEST', `${where}: the sequence has ${ids.length} tokens, more than the model's ${maxSeq}`, manifest);
    }
    const visionMask = new Uint8Array(ids.length);
    visionMask.fill(1, prompt.imageTokenOffset, prompt.imageTokenOffset + prompt.imageTokenCount);
    const captionMask = new Uint8Array(ids.length);
    // The supervised tokens themselves: the answer or caption and the closing EOS (docs/algorithm.md §2).
    captionMask.fill(1, prompt.ids.length, ids.length);
    samples.push({
      line: e.line, image: e.image, inputIds: Int32Array.from(ids),
      pixels: await readImage(root, e.image, inputs), visionMask, captionMask,
    });
  }
  return { dir: root, imageSize: mbq.imageSize, samples, available: entries.length };
}
