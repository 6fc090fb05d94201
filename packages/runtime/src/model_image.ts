/**
 * One preprocessing path for every model: the image's RGBA bytes through the model's image
 * processor (`preprocessImage` of @tfjs-mbq/format, as transformers' processor computes it; the
 * fixture's processor is a resize and 1/255), then laid out as the graph's pixel_values, with
 * what the prompt's image-token rule needs to know of the processed image.
 */
import * as tf from '@tensorflow/tfjs-core';
import { chwToHwc, preprocessImage, promptImageShape, tinyVlmImageProcessor, type ImageProcessorConfig, type ProcessedImageShape } from '@tfjs-mbq/format';
import { rgbaOf, type ImageInput } from './image.js';

export interface ModelImage {
  /** pixel_values, NHWC float32. */
  pixels: Float32Array;
  shape: [1, number, number, 3];
  /** What the prompt builder reads of the processed image (size, original size, patch grid). */
  processed: ProcessedImageShape;
}

/** pixel_values `[1, H, W, 3]` of `image` for a graph that takes `graphSize` (`who` names the caller in errors). */
export function modelImage(image: ImageInput, processor: ImageProcessorConfig, graphSize: readonly [number, number], who: string): ModelImage {
  if (processor.kind !== 'single') {
    throw new Error(`${who}: a ${processor.kind} image processor (mbq.json imageProcessor) is not fed to graphs yet; the runtime runs single-view image models (LLaVA-1.5, the fixture)`);
  }
  const rgba = rgbaOf(image);
  const pre = preprocessImage(rgba, processor);
  const [, , h, w] = pre.shape as [number, number, number, number];
  if (h !== graphSize[0] || w !== graphSize[1]) {
    throw new Error(`${who}: the image processor made ${h}x${w} pixel_values from a ${rgba.width}x${rgba.height} image; the model takes ${graphSize[0]}x${graphSize[1]}`);
  }
  return { pixels: chwToHwc(pre.pixelValues, h, w), shape: [1, h, w, 3], processed: promptImageShape(pre, processor) };
}

/**
 * `pixel_values` `[1, H, W, 3]` of the project's own models: the fixture's image processor
 * (Pillow-exact bilinear resize to `size` when the image has another size, RGB / 255, alpha dropped).
 */
export function toPixelValues(image: ImageInput, size: readonly [number, number]): tf.Tensor4D {
  const m = modelImage(image, tinyVlmImageProcessor([size[0], size[1]]), size, 'image');
  return tf.tensor4d(m.pixels, m.shape);
}
