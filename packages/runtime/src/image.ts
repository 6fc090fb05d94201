/**
 * Turns an image into `pixel_values`: float32 `[1, H, W, 3]` in [0, 1] at the model's size.
 * Accepts RGBA pixel buffers (ImageData, a jimp image or its `bitmap`) everywhere, and image,
 * canvas, video and ImageBitmap elements in a browser. Alpha is ignored.
 */
import * as tf from '@tensorflow/tfjs-core';
import { imageSizeError } from '@tfjs-mbq/format';

/** Row-major RGBA bytes, 4 per pixel: the layout of ImageData and of jimp's `bitmap`. */
export interface RgbaImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/** A jimp image (or anything with an RGBA `bitmap`). */
export interface HasBitmap {
  bitmap: RgbaImage;
}

export type BrowserImage = HTMLImageElement | HTMLCanvasElement | HTMLVideoElement | ImageBitmap;

export type ImageInput = RgbaImage | HasBitmap | BrowserImage;

function isRgba(x: unknown): x is RgbaImage {
  const o = x as RgbaImage;
  return !!o && typeof o === 'object' && typeof o.width === 'number' && typeof o.height === 'number' &&
    (o.data instanceof Uint8Array || o.data instanceof Uint8ClampedArray);
}

/** Refuses an image over IMAGE_LIMITS of @tfjs-mbq/format before it becomes a float tensor. */
function checkSize(width: number, height: number): void {
  const why = imageSizeError(width, height);
  if (why) throw new Error(`image: ${why}`);
}

/** The pixel size of a browser image source (an <img>'s decoded size, a <video>'s frame size). */
function browserImageSize(image: BrowserImage): [number, number] {
  const o = image as Partial<HTMLImageElement & HTMLVideoElement> & { width: number; height: number };
  if (typeof o.naturalWidth === 'number' && typeof o.naturalHeight === 'number') return [o.naturalWidth, o.naturalHeight];
  if (typeof o.videoWidth === 'number' && typeof o.videoHeight === 'number') return [o.videoWidth, o.videoHeight];
  return [o.width, o.height];
}

function rgbaToTensor(img: RgbaImage): tf.Tensor3D {
  const { width, height, data } = img;
  checkSize(width, height);
  if (data.length !== width * height * 4) {
    throw new Error(`image: ${data.length} bytes for ${width}x${height} RGBA (expected ${width * height * 4})`);
  }
  const rgb = new Float32Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    rgb[p * 3] = data[p * 4]! / 255;
    rgb[p * 3 + 1] = data[p * 4 + 1]! / 255;
    rgb[p * 3 + 2] = data[p * 4 + 2]! / 255;
  }
  return tf.tensor3d(rgb, [height, width, 3]);
}

/**
 * `pixel_values` `[1, H, W, 3]`. An image of another size is resized bilinearly (half-pixel
 * centres); an image already at `[H, W]` passes through unchanged, so answers match the pixels.
 */
export function toPixelValues(image: ImageInput, size: readonly [number, number]): tf.Tensor4D {
  if (image === null || image === undefined) throw new Error(`image: no image given (got ${String(image)})`);
  if (typeof image === 'string') {
    throw new Error(`image: got the string '${String(image).slice(0, 200)}'; pass decoded pixels (e.g. a jimp image: await Jimp.read(file)) or an image element, not a path or URL`);
  }
  return tf.tidy(() => {
    let x: tf.Tensor3D;
    if (isRgba(image)) x = rgbaToTensor(image);
    else if (isRgba((image as HasBitmap).bitmap)) x = rgbaToTensor((image as HasBitmap).bitmap);
    else if (typeof document !== 'undefined' || typeof ImageBitmap !== 'undefined') {
      checkSize(...browserImageSize(image as BrowserImage));
      x = tf.div(tf.cast(tf.browser.fromPixels(image as BrowserImage, 3), 'float32'), 255);
    } else {
      throw new Error('image: expected RGBA pixels ({data, width, height}), a jimp image, or a browser image/canvas element');
    }
    const [h, w] = size;
    if (x.shape[0] !== h || x.shape[1] !== w) x = tf.image.resizeBilinear(x, [h, w], false, true);
    return tf.expandDims(x, 0) as tf.Tensor4D;
  });
}
