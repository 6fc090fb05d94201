/**
 * Image dimensions read from the file header, so that a small file declaring a huge image (a
 * 1 MB PNG of 20000x20000 decodes to 1.6 GB of RGBA) is refused before anything is decoded.
 * One home of the limits for every image we read: converter calibration and evaluation, the CLI,
 * the runtime's pixel input.
 */

/**
 * The largest image accepted. Models take small images (the fixture 64x64, LLaVA 336x336);
 * 16 Mpx is 64 MiB as RGBA and 192 MiB as float RGB before resizing.
 */
export const IMAGE_LIMITS = {
  /** Pixels on the longer side. */
  maxSide: 8192,
  /** width * height. */
  maxPixels: 4096 * 4096,
} as const;

export interface ImageHeader {
  format: 'png' | 'jpeg';
  width: number;
  height: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function u16(b: Uint8Array, i: number): number { return (b[i]! << 8) | b[i + 1]!; }
function u32(b: Uint8Array, i: number): number { return ((b[i]! << 24) >>> 0) + (b[i + 1]! << 16) + (b[i + 2]! << 8) + b[i + 3]!; }

/** PNG: the IHDR chunk must come first (PNG spec 11.2.2). */
function pngHeader(b: Uint8Array): ImageHeader | string {
  if (b.length < 24) return 'a truncated PNG (no IHDR chunk)';
  const type = String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!);
  if (type !== 'IHDR') return `a PNG whose first chunk is not IHDR`;
  return { format: 'png', width: u32(b, 16), height: u32(b, 20) };
}

/** JPEG: the first start-of-frame segment (SOF0..SOF15 but DHT, JPG, DAC) holds height and width. */
function jpegHeader(b: Uint8Array): ImageHeader | string {
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return 'a JPEG with a malformed segment';
    const marker = b[i + 1]!;
    if (marker === 0xff) { i++; continue; } // fill byte
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; } // no length
    if (marker === 0xd9 || marker === 0xda) break; // end of image / start of scan before any frame
    const length = u16(b, i + 2);
    if (length < 2) return 'a JPEG with a malformed segment';
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (i + 9 > b.length) break;
      return { format: 'jpeg', height: u16(b, i + 5), width: u16(b, i + 7) };
    }
    i += 2 + length;
  }
  return 'a JPEG without a frame header';
}

/**
 * The format and dimensions from the first bytes of a PNG or JPEG file, or why they cannot be
 * read ("not a PNG or JPEG image", "a truncated PNG ..."). Nothing is decoded.
 */
export function readImageHeader(bytes: Uint8Array): ImageHeader | string {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((v, i) => bytes[i] === v)) return pngHeader(bytes);
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return jpegHeader(bytes);
  return 'not a PNG or JPEG image';
}

/** Why an image of `width` x `height` is refused, or null when it is within IMAGE_LIMITS. */
export function imageSizeError(width: number, height: number): string | null {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) return `invalid image size ${width}x${height}`;
  if (width > IMAGE_LIMITS.maxSide || height > IMAGE_LIMITS.maxSide || width * height > IMAGE_LIMITS.maxPixels) {
    return `the image is ${width}x${height} pixels, over the limit of ${IMAGE_LIMITS.maxSide} on a side and ${IMAGE_LIMITS.maxPixels} pixels in all`;
  }
  return null;
}

/**
 * The header of a PNG or JPEG within IMAGE_LIMITS, or why the bytes are refused. Call it before
 * handing the bytes to a decoder (jimp, sharp, createImageBitmap).
 */
export function checkImageHeader(bytes: Uint8Array): ImageHeader | string {
  const header = readImageHeader(bytes);
  if (typeof header === 'string') return header;
  const tooBig = imageSizeError(header.width, header.height);
  return tooBig ? `${tooBig} (read from the ${header.format.toUpperCase()} header; not decoded)` : header;
}
