/**
 * One preprocessing path for every model: the image's RGBA bytes through the model's image
 * processor (`preprocessImage` of @tfjs-mbq/format, as transformers' processor computes it; the
 * fixture's processor is a resize and 1/255), laid out as the graph's pixel_values (mbq.json
 * `imageInput`: the image, OneVision's stacked views, Qwen2-VL's resized image), with what the
 * prompt's image-token rule needs to know of the processed image. A graph takes one fixed image
 * mode: an image the processor lays out otherwise (a Qwen2-VL image of another resized size, a
 * OneVision image of another tile layout) is first resized to the mode's input size, exactly as
 * calibration does (format's `graphImage`); `resizedFrom` then says so.
 */
import * as tf from '@tensorflow/tfjs-core';
import { graphImage, tinyVlmImageProcessor, type ImageInputLayout, type ImageProcessorConfig, type ProcessedImageShape } from '@tfjs-mbq/format';
import { rgbaOf, type ImageInput } from './image.js';

export interface ModelImage {
  /** pixel_values, NHWC float32. */
  pixels: Float32Array;
  shape: [1, number, number, 3];
  /** What the prompt builder reads of the processed image (size, original size, patch grid). */
  processed: ProcessedImageShape;
  /** Set when the image was resized to the graph's image mode first: its own [height, width]. */
  resizedFrom?: [number, number];
}

/**
 * pixel_values `[1, H, W, 3]` of `image` for a graph with this input layout that takes `graphSize`
 * (`who` names the caller in errors).
 */
export function modelImage(image: ImageInput, processor: ImageProcessorConfig, layout: ImageInputLayout, graphSize: readonly [number, number], who: string): ModelImage {
  const rgba = rgbaOf(image);
  let g: ReturnType<typeof graphImage>;
  try {
    g = graphImage(rgba, processor, layout, graphSize);
  } catch (e) {
    throw new Error(`${who}: a ${rgba.width}x${rgba.height} image: ${(e as Error).message.replace(/^image: /, '')}`);
  }
  return { pixels: g.data, shape: g.shape, processed: g.processed, ...(g.resizedFrom ? { resizedFrom: g.resizedFrom } : {}) };
}

/**
 * `pixel_values` `[1, H, W, 3]` of the project's own models: the fixture's image processor
 * (Pillow-exact bilinear resize to `size` when the image has another size, RGB / 255, alpha dropped).
 */
export function toPixelValues(image: ImageInput, size: readonly [number, number]): tf.Tensor4D {
  const m = modelImage(image, tinyVlmImageProcessor([size[0], size[1]]), { kind: 'image' }, size, 'image');
  return tf.tensor4d(m.pixels, m.shape);
}
