// Reading image processor settings: the classes and key spellings transformers 4 and 5 write, and
// one clear line for what is not supported.
import { readFileSync } from 'node:fs';
import {
  findImageProcessorConfig, parseImageProcessorConfig, parseStoredImageProcessor, preprocessImage, smartResize, selectBestResolution, fitInside, tinyVlmImageProcessor,
} from '@tfjs-mbq/format';

describe('parseImageProcessorConfig', () => {
  test('backend suffixes (Fast, Pil) name the same processor', () => {
    const base = { size: { height: 32, width: 32 }, resample: 2, image_mean: 0.5, image_std: [0.5, 0.5, 0.5] };
    const a = parseImageProcessorConfig({ image_processor_type: 'SiglipImageProcessor', ...base }, 'a.json');
    expect(parseImageProcessorConfig({ image_processor_type: 'SiglipImageProcessorFast', ...base }, 'b.json')).toEqual(a);
    expect(a).toEqual({
      kind: 'single', compositeOnWhite: true, resample: 'bilinear', rescaleFactor: 1 / 255,
      normalize: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }, resize: { height: 32, width: 32 }, centerCrop: null,
    });
  });

  test('Qwen2-VL: top-level min_pixels / max_pixels override size, as transformers does', () => {
    const c = parseImageProcessorConfig({
      image_processor_type: 'Qwen2VLImageProcessor', min_pixels: 3136, max_pixels: 12845056,
      size: { shortest_edge: 1, longest_edge: 2 },
    }, 'preprocessor_config.json');
    expect(c).toMatchObject({ kind: 'qwen2-vl', minPixels: 3136, maxPixels: 12845056, patchSize: 14, temporalPatchSize: 2, mergeSize: 2 });
  });

  test('do_rescale / do_normalize false drop those steps', () => {
    const c = parseImageProcessorConfig({
      image_processor_type: 'CLIPImageProcessor', do_rescale: false, do_normalize: false, do_center_crop: false, size: { shortest_edge: 4 },
    }, 'p.json');
    expect(c).toMatchObject({ rescaleFactor: null, normalize: null, centerCrop: null });
    const out = preprocessImage({ data: new Uint8Array(4 * 4 * 3).fill(200), width: 4, height: 4 }, c);
    expect(Array.from(out.pixelValues)).toEqual(new Array(48).fill(200));
  });

  test.each([
    [{ image_processor_type: 'LlavaImageProcessor' }, 'p.json: image processor "LlavaImageProcessor" is not supported (supported: CLIPImageProcessor, SiglipImageProcessor, LlavaOnevisionImageProcessor, Qwen2VLImageProcessor)'],
    [{ size: { height: 3 } }, 'p.json: "image_processor_type" is missing'],
    [{ image_processor_type: 'CLIPImageProcessor', resample: 9 }, 'p.json: "resample" must be a PIL resampling number 0-5, got 9'],
    [{ image_processor_type: 'SiglipImageProcessor', size: { height: 3 } }, 'p.json: "size" must have positive integer "height" and "width", got {"height":3}'],
    [{ image_processor_type: 'CLIPImageProcessor', image_mean: [1, 2] }, 'p.json: "image_mean" must be a number or 3 numbers, got [1,2]'],
    [{ image_processor_type: 'LlavaOnevisionImageProcessor', size: { height: 8, width: 8 } }, 'p.json: "image_grid_pinpoints" must be a list of [height, width] pairs, got undefined'],
    [{ image_processor_type: 'Qwen2VLImageProcessor', min_pixels: 10, max_pixels: 5 }, 'p.json: min/max pixels must be positive integers with max >= min, got 10 and 5'],
    [[1], 'p.json: image processor settings must be a JSON object'],
  ])('refuses %j', (json, message) => {
    expect(() => parseImageProcessorConfig(json, 'p.json')).toThrow(message);
  });
});

describe('findImageProcessorConfig', () => {
  test('prefers the nested transformers 5 entry', () => {
    const c = findImageProcessorConfig({
      processorConfig: { json: { image_processor: { image_processor_type: 'SiglipImageProcessor', size: { height: 8, width: 8 } } }, file: 'd/processor_config.json' },
      preprocessorConfig: { json: { image_processor_type: 'nonsense' }, file: 'd/preprocessor_config.json' },
    });
    expect(c.kind).toBe('single');
  });

  test('names the files when there are no settings', () => {
    expect(() => findImageProcessorConfig({ processorConfig: { json: { processor_class: 'LlavaProcessor' }, file: 'd/processor_config.json' } }))
      .toThrow('d/processor_config.json has no "image_processor" and no preprocessor_config.json: the checkpoint has no image processor settings');
    expect(() => findImageProcessorConfig({ processorConfig: { json: { image_processor: 3 }, file: 'd/processor_config.json' } }))
      .toThrow('d/processor_config.json (image_processor): image processor settings must be a JSON object');
  });
});

describe('geometry, against values worked by hand from transformers\' formulas', () => {
  test('smartResize rounds half to even and honours min / max pixels', () => {
    expect(smartResize(64, 64, 28, 6400, 12544)).toEqual([84, 84]); // 56*56 < 6400: scaled up by 1.25, ceil to 84
    expect(smartResize(64, 64, 28, 784, 12544)).toEqual([56, 56]);
    expect(smartResize(42, 70, 28, 784, 1e6)).toEqual([56, 56]); // 42/28 = 1.5 -> 2, 70/28 = 2.5 -> 2 (half to even)
    expect(smartResize(1000, 500, 28, 784, 28 * 28 * 16)).toEqual([140, 56]); // beta = sqrt(500000/12544): floor
    expect(() => smartResize(10, 2100, 28, 784, 1e6)).toThrow('qwen2-vl: aspect ratio must be at most 200, got 10x2100');
  });

  test('selectBestResolution and fitInside', () => {
    expect(selectBestResolution(64, 64, [[56, 56]])).toEqual([56, 56]);
    const pins: [number, number][] = [[384, 384], [384, 768], [384, 1152]];
    // 1000x3000 keeps most in 384x1152 (scale 0.384: 442368 pixels, against 196608 and 49152).
    expect(selectBestResolution(1000, 3000, pins)).toEqual([384, 1152]);
    // 100x300 is upscaled into all three, keeping its 30000 pixels: the least waste wins.
    expect(selectBestResolution(100, 300, pins)).toEqual([384, 384]);
    expect(fitInside([100, 300], [384, 768])).toEqual([256, 768]);
    expect(fitInside([300, 100], [384, 384])).toEqual([384, 128]);
  });
});

describe('parseStoredImageProcessor (mbq.json imageProcessor)', () => {
  const clip = findImageProcessorConfig({ processorConfig: { json: JSON.parse(readFileSync('fixtures/hf/llava-1.5-tiny/processor_config.json', 'utf8')), file: 'processor_config.json' } });

  test('every kind reads back as written', () => {
    const anyres = parseImageProcessorConfig({ image_processor_type: 'LlavaOnevisionImageProcessor', size: { height: 56, width: 56 }, image_grid_pinpoints: [[56, 56], [56, 112]] }, 'p.json');
    const qwen = parseImageProcessorConfig({ image_processor_type: 'Qwen2VLImageProcessor', min_pixels: 3136, max_pixels: 12544 }, 'p.json');
    for (const c of [clip, tinyVlmImageProcessor([64, 64]), anyres, qwen]) {
      expect(parseStoredImageProcessor(JSON.parse(JSON.stringify(c)), 'mbq.json: "imageProcessor"', 'mbq.json')).toEqual(c);
    }
  });

  test.each([
    ['not an object', 7, 'm: must be an object, got 7'],
    ['unknown kind', { ...clip, kind: 'tiles' }, 'm: "kind" must be "single", "anyres" or "qwen2-vl", got "tiles"'],
    ['bad resample', { ...clip, resample: 'cubic' }, 'm: "resample" must be one of nearest, lanczos, bilinear, bicubic, box, hamming, got "cubic"'],
    ['zero std', { ...clip, normalize: { mean: [0, 0, 0], std: [1, 0, 1] } }, 'm: "normalize.std" must be 3 positive finite numbers, got [1,0,1]'],
    ['huge resize', { ...clip, resize: { shortestEdge: 1e6 } }, 'm: "resize.shortestEdge" must be an integer in 1..8192, got 1000000'],
    ['crop without width', { ...clip, centerCrop: { height: 4 } }, 'm: "centerCrop.width" must be an integer in 1..8192, got undefined'],
    ['missing compositeOnWhite', { ...clip, compositeOnWhite: undefined }, 'm: "compositeOnWhite" must be true or false, got undefined'],
    ['negative rescale', { ...clip, rescaleFactor: -1 }, 'm: "rescaleFactor" must be a positive number or null, got -1'],
  ])('%s is refused naming the field', (_name, raw, message) => {
    expect(() => parseStoredImageProcessor(raw, 'm', 'mbq.json')).toThrow(message);
  });
});
