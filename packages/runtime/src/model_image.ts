/**
 * One preprocessing path for every model: the image's RGBA bytes through the model's image
 * processor (`preprocessImage` of @tfjs-mbq/format, as transformers' processor computes it; the
 * fixture's processor is a resize and 1/255), laid out as the graph's pixel_values (mbq.json
 * `imageInput`: the image, OneVision's stacked views, Qwen2-VL's resized image), with what the
 * prompt's image-token rule needs to know of the processed image.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  graphPixelValues, preprocessImage, promptImageShape, tinyVlmImageProcessor,
  type ImageInputLayout, type ImageProcessorConfig, type ProcessedImageShape,
} from '@tfjs-mbq/format';
import { rgbaOf, type ImageInput } from './image.js';

export interface ModelImage {
  /** pixel_values, NHWC float32. */
  pixels: Float32Array;
  shape: [1, number, number, 3];
  /** What the prompt builder reads of the processed image (size, original size, patch grid). */
  processed: ProcessedImageShape;
}

/**
 * pixel_values `[1, H, W, 3]` of `image` for a graph with this input layout that takes `graphSize`
 * (`who` names the caller in errors).
 */
export function modelImage(image: ImageInput, processor: ImageProcessorConfig, layout: ImageInputLayout, graphSize: readonly [number, number], who: string): ModelImage {
  const rgba = rgbaOf(image);
  const pre = preprocessImage(rgba, processor);
  let graph: ReturnType<typeof graphPixelValues>;
  try {
    graph = graphPixelValues(pre, layout, processor.kind === 'qwen2-vl' ? processor : undefined);
  } catch (e) {
    throw new Error(`${who}: a ${rgba.width}x${rgba.height} image: ${(e as Error).message.replace(/^graphPixelValues: /, '')}`);
  }
  const [, h, w] = graph.shape;
  if (h !== graphSize[0] || w !== graphSize[1]) {
    throw new Error(`${who}: the image processor made ${h}x${w} pixel_values from a ${rgba.width}x${rgba.height} image; the model takes ${graphSize[0]}x${graphSize[1]}`);
  }
  return { pixels: graph.data, shape: graph.shape, processed: promptImageShape(pre, processor) };
}

/**
 * `pixel_values` `[1, H, W, 3]` of the project's own models: the fixture's image processor
 * (Pillow-exact bilinear resize to `size` when the image has another size, RGB / 255, alpha dropped).
 */
export function toPixelValues(image: ImageInput, size: readonly [number, number]): tf.Tensor4D {
  const m = modelImage(image, tinyVlmImageProcessor([size[0], size[1]]), { kind: 'image' }, size, 'image');
  return tf.tensor4d(m.pixels, m.shape);
}
