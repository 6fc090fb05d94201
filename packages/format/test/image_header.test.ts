/** Issue 15 §4: image dimensions from the header, before any decoding, against IMAGE_LIMITS. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IMAGE_LIMITS, checkImageHeader, imageSizeError, readImageHeader } from '@tfjs-mbq/format';
import { jpegDeclaring, pngDeclaring } from './helpers/crafted_images.js';

test('the header of a real PNG: the fixture images are 64x64', () => {
  const png = readFileSync(join(process.cwd(), 'fixtures/shapes-vqa/eval/0000.png'));
  expect(readImageHeader(png)).toEqual({ format: 'png', width: 64, height: 64 });
  expect(checkImageHeader(png)).toEqual({ format: 'png', width: 64, height: 64 });
});

test('crafted headers read back their declared size', () => {
  expect(readImageHeader(pngDeclaring(20000, 20000))).toEqual({ format: 'png', width: 20000, height: 20000 });
  expect(readImageHeader(pngDeclaring(0xffffffff, 1))).toEqual({ format: 'png', width: 0xffffffff, height: 1 });
  expect(readImageHeader(jpegDeclaring(640, 480))).toEqual({ format: 'jpeg', width: 640, height: 480 });
  expect(readImageHeader(jpegDeclaring(65535, 65535))).toEqual({ format: 'jpeg', width: 65535, height: 65535 });
});

test.each([
  ['a 20000x20000 PNG', pngDeclaring(20000, 20000), /^the image is 20000x20000 pixels, over the limit of 8192 on a side and 16777216 pixels in all \(read from the PNG header; not decoded\)$/],
  ['a PNG over the side limit only', pngDeclaring(IMAGE_LIMITS.maxSide + 1, 2), /is 8193x2 pixels, over the limit/],
  ['a PNG over the pixel count only', pngDeclaring(5000, 5000), /is 5000x5000 pixels, over the limit/],
  ['a 0x0 PNG', pngDeclaring(0, 0), /^invalid image size 0x0 \(read from the PNG header; not decoded\)$/],
  ['a 60000x60000 JPEG', jpegDeclaring(60000, 60000), /is 60000x60000 pixels, .* \(read from the JPEG header; not decoded\)$/],
  ['a GIF', Buffer.from('GIF89a\x10\x00\x10\x00', 'latin1'), /^not a PNG or JPEG image$/],
  ['text', Buffer.from('not a png at all'), /^not a PNG or JPEG image$/],
  ['an empty file', Buffer.alloc(0), /^not a PNG or JPEG image$/],
  ['a PNG signature alone', pngDeclaring(4, 4).subarray(0, 8), /^a truncated PNG/],
  ['a PNG whose first chunk is not IHDR', Buffer.concat([pngDeclaring(4, 4).subarray(0, 12), Buffer.from('IDAT'), Buffer.alloc(12)]), /first chunk is not IHDR/],
  ['a JPEG with no frame header', Buffer.from([0xff, 0xd8, 0xff, 0xd9]), /^a JPEG without a frame header$/],
  ['a JPEG cut inside a segment', jpegDeclaring(64, 64).subarray(0, 12), /^a JPEG without a frame header$/],
])('%s is refused from its header', (_name, bytes, message) => {
  const r = checkImageHeader(bytes);
  expect(typeof r).toBe('string');
  expect(r).toMatch(message);
});

test('the limits: within passes, one over fails', () => {
  expect(imageSizeError(IMAGE_LIMITS.maxSide, IMAGE_LIMITS.maxPixels / IMAGE_LIMITS.maxSide)).toBeNull();
  expect(imageSizeError(4096, 4096)).toBeNull();
  expect(imageSizeError(4096, 4097)).toMatch(/over the limit/);
  expect(imageSizeError(1.5, 2)).toMatch(/invalid image size/);
});
