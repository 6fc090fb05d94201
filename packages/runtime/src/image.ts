/**
 * Images in, as apps hold them: RGBA pixel buffers (ImageData, a jimp image or its `bitmap`)
 * everywhere, and image, canvas, video and ImageBitmap elements in a browser. They become the
 * graph's pixel_values through the model's image processor (model_image.ts).
 */
import { imageSizeError } from '@tfjs-mbq/format';

/** Row-major RGBA bytes, 4 per pixel: the layout of ImageData and of jimp's `bitmap`. */
export interface RgbaImage {
  /** `width * height * 4` bytes, row by row. */
  data: Uint8Array | Uint8ClampedArray;
  /** Pixels per row. */
  width: number;
  /** Rows. */
  height: number;
}

/** A jimp image (or anything with an RGBA `bitmap`). */
export interface HasBitmap {
  /** The RGBA pixels. */
  bitmap: RgbaImage;
}

export type BrowserImage = HTMLImageElement | HTMLCanvasElement | HTMLVideoElement | ImageBitmap;

export type ImageInput = RgbaImage | HasBitmap | BrowserImage;

/** A Uint8Array or Uint8ClampedArray, also from another realm (a worker message, an iframe). */
function isBytes(x: unknown): x is Uint8Array | Uint8ClampedArray {
  const tag = Object.prototype.toString.call(x);
  return tag === '[object Uint8Array]' || tag === '[object Uint8ClampedArray]';
}

function isRgba(x: unknown): x is RgbaImage {
  const o = x as RgbaImage;
  return !!o && typeof o === 'object' && typeof o.width === 'number' && typeof o.height === 'number' &&
    isBytes(o.data);
}

/** Refuses an image over IMAGE_LIMITS of @tfjs-mbq/format before it is preprocessed. */
function checkSize(width: number, height: number): void {
  const why = imageSizeError(width, height);
  if (why) throw new Error(`image: ${why}`);
}

function checkRgba(img: RgbaImage): RgbaImage {
  const { width, height, data } = img;
  checkSize(width, height);
  if (data.length !== width * height * 4) {
    throw new Error(`image: ${data.length} bytes for ${width}x${height} RGBA (expected ${width * height * 4})`);
  }
  return img;
}

/** The pixel size of a browser image source (an <img>'s decoded size, a <video>'s frame size). */
function browserImageSize(image: BrowserImage): [number, number] {
  const o = image as Partial<HTMLImageElement & HTMLVideoElement> & { width: number; height: number };
  if (typeof o.naturalWidth === 'number' && typeof o.naturalHeight === 'number') return [o.naturalWidth, o.naturalHeight];
  if (typeof o.videoWidth === 'number' && typeof o.videoHeight === 'number') return [o.videoWidth, o.videoHeight];
  return [o.width, o.height];
}

/** A browser image's RGBA bytes, drawn once onto a canvas of its own size (no scaling). */
function browserRgba(image: BrowserImage): RgbaImage {
  const [width, height] = browserImageSize(image);
  if (!(width > 0 && height > 0)) throw new Error(`image: the image element has no pixels yet (${width}x${height}; wait for it to load)`);
  checkSize(width, height);
  let ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (typeof OffscreenCanvas !== 'undefined') {
    ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
  } else {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    ctx = canvas.getContext('2d', { willReadFrequently: true });
  }
  if (!ctx) throw new Error('image: no 2d canvas context to read the image\'s pixels');
  ctx.drawImage(image, 0, 0);
  return { data: ctx.getImageData(0, 0, width, height).data, width, height };
}

/** The RGBA bytes of any accepted image (checked: a positive size, 4 bytes a pixel). */
export function rgbaOf(image: ImageInput): RgbaImage {
  if (image === null || image === undefined) throw new Error(`image: no image given (got ${String(image)})`);
  if (typeof image === 'string') {
    throw new Error(`image: got the string '${String(image).slice(0, 200)}'; pass decoded pixels (e.g. a jimp image: await Jimp.read(file)) or an image element, not a path or URL`);
  }
  if (isRgba(image)) return checkRgba(image);
  if (isRgba((image as HasBitmap).bitmap)) return checkRgba((image as HasBitmap).bitmap);
  if (typeof document !== 'undefined' || typeof OffscreenCanvas !== 'undefined') return browserRgba(image as BrowserImage);
  throw new Error('image: expected RGBA pixels ({data, width, height}), a jimp image, or a browser image/canvas element');
}
