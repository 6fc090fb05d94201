import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { IMAGE_LIMITS, toPixelValues } from '@tfjs-mbq/runtime';
import { testImage } from './helpers/tiny_vlm.js';

describe('toPixelValues', () => {
  beforeAll(async () => { await initBackend('cpu'); });

  it('keeps an image of the model size exactly: RGB / 255, alpha dropped', async () => {
    const img = testImage(5);
    const x = toPixelValues(img, [5, 5]);
    expect(x.shape).toEqual([1, 5, 5, 3]);
    const got = await x.data();
    for (let p = 0; p < 25; p++) for (let c = 0; c < 3; c++) expect(got[p * 3 + c]).toBeCloseTo(img.data[p * 4 + c]! / 255, 6);
    x.dispose();
  });

  // Issue 15 §4: a declared size over IMAGE_LIMITS is refused before any pixel becomes a float
  // (the data here is 4 bytes, so only the size check stands between it and a 4.8 GB tensor).
  it.each([
    ['20000x20000', 20000, 20000],
    ['one side over the limit', IMAGE_LIMITS.maxSide + 1, 1],
    ['over the pixel count', 4097, 4096],
  ])('refuses an image of %s from its size alone', (_name, width, height) => {
    const before = tf.memory().numTensors;
    expect(() => toPixelValues({ data: new Uint8Array(4), width, height }, [64, 64]))
      .toThrow(`image: the image is ${width}x${height} pixels, over the limit of 8192 on a side and 16777216 pixels in all`);
    expect(() => toPixelValues({ bitmap: { data: new Uint8Array(4), width, height } }, [64, 64])).toThrow(/over the limit/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('accepts a jimp-like {bitmap} and resizes as Pillow\'s bilinear filter does (the fixture\'s image processor)', async () => {
    const data = new Uint8Array(4 * 4 * 4);
    for (let p = 0; p < 16; p++) data.set([255, 0, (p % 4) * 85, 255], p * 4);
    const x = toPixelValues({ bitmap: { data, width: 4, height: 4 } }, [2, 2]);
    expect(x.shape).toEqual([1, 2, 2, 3]);
    const v = await x.data();
    expect(v[0]).toBeCloseTo(1, 6); // red stays 1
    expect(v[1]).toBeCloseTo(0, 6);
    // Pillow downscales 4 -> 2 with the support widened by 2: output column 0 (centre 1.0) weighs
    // input columns 0, 1, 2 (blue 0, 85, 170) by 0.75, 0.75, 0.25, so (63.75 + 42.5) / 1.75 = 60.71,
    // rounded to the 8-bit 61 (Pillow keeps uint8 between passes); the rows are equal.
    expect(v[2]).toBe(Math.fround(61 / 255));
    x.dispose();
  });

  it('rejects a buffer of the wrong length', () => {
    expect(() => toPixelValues({ data: new Uint8Array(10), width: 2, height: 2 }, [2, 2])).toThrow(/10 bytes for 2x2 RGBA/);
    expect(tf.memory().numTensors).toBeGreaterThanOrEqual(0);
  });
});
