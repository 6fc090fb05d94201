// Pillow's resize and RGBA->RGB composite, reproduced bit for bit: checked against Pillow's own
// outputs (fixtures/pil_reference.json, written by fixtures/make_pil_reference.py with Pillow).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pilResizeRgb, toRgb, type PilResample } from '@tfjs-mbq/format';

interface Reference {
  pillow: string;
  source: { width: number; height: number; rgb: string };
  resizes: { resample: PilResample; width: number; height: number; rgb: string }[];
  composite: { width: number; height: number; rgba: string; rgb: string };
}

const here = dirname(fileURLToPath(import.meta.url));
const ref = JSON.parse(readFileSync(join(here, 'fixtures', 'pil_reference.json'), 'utf8')) as Reference;
const bytes = (b64: string): Uint8Array => new Uint8Array(Buffer.from(b64, 'base64'));

function countDifferent(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

describe(`Pillow ${ref.pillow} resize`, () => {
  const src = bytes(ref.source.rgb);
  test.each(ref.resizes.map((r) => [r.resample, `${ref.source.width}x${ref.source.height}->${r.width}x${r.height}`, r] as const))(
    '%s %s equals Pillow byte for byte', (resample, _size, r) => {
      const got = pilResizeRgb(src, ref.source.width, ref.source.height, r.width, r.height, resample);
      const want = bytes(r.rgb);
      expect(got.length).toBe(want.length);
      expect(countDifferent(got, want)).toBe(0);
    });

  test('same size is an exact copy', () => {
    expect(pilResizeRgb(src, 17, 13, 17, 13, 'bicubic')).toEqual(src);
  });

  test('bad sizes are refused with one line', () => {
    expect(() => pilResizeRgb(src, 17, 13, 0, 5, 'bicubic')).toThrow('resize: output size must be positive integers, got 0x5');
    expect(() => pilResizeRgb(src.subarray(1), 17, 13, 5, 5, 'bicubic')).toThrow('resize: expected 663 RGB bytes, got 662');
  });
});

describe('RGBA to RGB', () => {
  const { width, height } = ref.composite;
  const rgba = bytes(ref.composite.rgba);

  test("composite over white equals Pillow's alpha_composite", () => {
    const got = toRgb({ data: rgba, width, height }, true);
    expect(countDifferent(got, bytes(ref.composite.rgb))).toBe(0);
    // The fixture has fully transparent, opaque and partial alphas.
    const alphas = new Set(Array.from({ length: width * height }, (_, p) => rgba[p * 4 + 3]));
    expect(alphas.has(0) && alphas.has(255) && alphas.size > 10).toBe(true);
  });

  test('without compositing, alpha is dropped', () => {
    const got = toRgb({ data: rgba, width, height }, false);
    for (let p = 0; p < width * height; p++) for (let c = 0; c < 3; c++) expect(got[p * 3 + c]).toBe(rgba[p * 4 + c]);
  });

  test('a buffer of the wrong length is refused', () => {
    expect(() => toRgb({ data: new Uint8Array(10), width: 2, height: 2 }, true)).toThrow('image: 10 bytes is neither RGB nor RGBA for 2x2');
  });
});
