/**
 * A graph's `pixel_values` from any image. An imported graph takes one fixed image mode (mbq.json
 * `imageInput` and `imageSize`): an image the processor turns into that layout is used as it is;
 * any other (a Qwen2-VL image of another resized size, a OneVision image of another tile layout or
 * aspect, a crop-less processor's non-square image) is first resized, with the processor's resample filter,
 * to the input size the mode is built for, then processed. Calibration and the runtime use it for
 * every image, so a model answers about the image it was calibrated on in the same way.
 */
import { FormatError } from '../errors.js';
import { graphPixelValues, type ImageInputLayout } from './graph_input.js';
import type { ImageProcessorConfig } from './image_processor_config.js';
import { pilResizeRgb } from './pil_resample.js';
import type { ProcessedImageShape } from './image_tokens.js';
import { preprocessImage, promptImageShape } from './preprocess.js';
import { toRgb, type RgbImage } from './rgb.js';

export interface GraphImage {
  /** NHWC float32, `[1, H, W, 3]` = `[1, ...imageSize, 3]`. */
  data: Float32Array;
  shape: [1, number, number, 3];
  /** Set when the image was resized to the mode's input size first: its own [height, width]. */
  resizedFrom?: [number, number];
  /** What the prompt's image-token rule reads of the processed image (of the resize, when there was one). */
  processed: ProcessedImageShape;
}

/** The input image size [H, W] a graph's fixed mode is built for: an image of this size gives exactly its layout. */
export function graphModeImageSize(layout: ImageInputLayout, imageSize: readonly [number, number]): [number, number] {
  return layout.kind === 'views' ? [...layout.imageSizeForLayout] : [imageSize[0], imageSize[1]];
}

function processed(image: RgbImage, processor: ImageProcessorConfig, layout: ImageInputLayout, imageSize: readonly [number, number]): GraphImage | string {
  // OneVision's image features are unpadded to the original aspect: the graph's count holds for
  // images of its layout image's aspect only, whatever tiles the processor picks.
  if (layout.kind === 'views') {
    const [lh, lw] = layout.imageSizeForLayout;
    if (image.width * lh !== image.height * lw) return `the model's anyres features are unpadded for a ${lh}x${lw} aspect, the image is ${image.height}x${image.width}`;
  }
  let g: { data: Float32Array; shape: [1, number, number, 3] };
  const pre = preprocessImage(image, processor);
  try {
    g = graphPixelValues(pre, layout, processor.kind === 'qwen2-vl' ? processor : undefined);
  } catch (e) {
    if (e instanceof FormatError && e.code === 'IMAGE') return e.message.replace(/^graphPixelValues: /, '');
    throw e;
  }
  const [, h, w] = g.shape;
  return h === imageSize[0] && w === imageSize[1] ? { ...g, processed: promptImageShape(pre, processor) } : `the processor made ${h}x${w} pixel_values, the model takes ${imageSize[0]}x${imageSize[1]}`;
}

/** `pixel_values` of `image` for a graph of this layout and `imageSize` (see the module comment). */
export function graphImage(image: RgbImage, processor: ImageProcessorConfig, layout: ImageInputLayout, imageSize: readonly [number, number]): GraphImage {
  const direct = processed(image, processor, layout, imageSize);
  if (typeof direct !== 'string') return direct;
  const [h, w] = graphModeImageSize(layout, imageSize);
  const rgb = pilResizeRgb(toRgb(image, processor.compositeOnWhite), image.width, image.height, w, h, processor.resample);
  const fitted = processed({ data: rgb, width: w, height: h }, processor, layout, imageSize);
  if (typeof fitted === 'string') {
    throw new FormatError('IMAGE', `image: neither the ${image.width}x${image.height} image nor its ${w}x${h} resize gives the model's pixel_values (${fitted})`);
  }
  return { ...fitted, resizedFrom: [image.height, image.width] };
}
