/**
 * The prompt ids of every recorded case of every fixtures/hf checkpoint equal transformers 5.17's
 * processor input_ids (records made by fixtures/hf/make_fixtures.py): chat template, image-token
 * expansion and tokenizer together.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Jimp } from 'jimp';
import { findImageProcessorConfig, hfPromptFromFiles, preprocessImage, promptImageShape, type ProcessedImageShape } from '@tfjs-mbq/format';

interface RecordCase {
  image: string;
  question: string;
  prompt: string;
  input_ids: number[];
  image_token_count: number;
  image_token_offset: number;
  pixel_values_shape: number[];
  image_sizes?: number[][];
  image_grid_thw?: number[][];
}

const ROOT = 'fixtures/hf';
const CHECKPOINTS = ['llava-1.5-tiny', 'llava-1.5-tiny-tf4', 'llava-onevision-tiny', 'qwen2-vl-tiny'];

function readJson(dir: string, file: string): unknown {
  const p = join(dir, file);
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : undefined;
}

/** What the processor's image side returned, as the token count reads it. */
function shapeOf(c: RecordCase): ProcessedImageShape {
  const s = c.pixel_values_shape;
  if (c.image_grid_thw) {
    const [t, h, w] = c.image_grid_thw[0]!;
    return { height: h! * 14, width: w! * 14, gridThw: [t!, h!, w!] }; // 14: the patch size; the count reads the grid only
  }
  const [oh, ow] = c.image_sizes?.[0] ?? [];
  return { height: s[s.length - 2]!, width: s[s.length - 1]!, originalHeight: oh, originalWidth: ow };
}

describe.each(CHECKPOINTS)('%s: prompt ids equal the processor\'s input_ids', (name) => {
  const dir = join(ROOT, name);
  const cases = (readJson(join(dir, 'records'), 'records.json') as { cases: RecordCase[] }).cases;
  const jinja = join(dir, 'chat_template.jinja');
  const prompt = hfPromptFromFiles({
    tokenizer: readJson(dir, 'tokenizer.json'),
    tokenizerConfig: readJson(dir, 'tokenizer_config.json'),
    config: readJson(dir, 'config.json'),
    chatTemplateJinja: existsSync(jinja) ? readFileSync(jinja, 'utf8') : undefined,
    chatTemplateJson: readJson(dir, 'chat_template.json'),
    processorConfig: readJson(dir, 'processor_config.json'),
    preprocessorConfig: readJson(dir, 'preprocessor_config.json'),
  }, { location: dir });

  it('has recorded cases', () => expect(cases.length).toBeGreaterThanOrEqual(3));

  it.each(cases.map((c, i) => [i, c] as const))('case %i', (_i, c) => {
    expect(prompt.text(c.question)).toBe(c.prompt);
    const p = prompt.prompt(c.question, shapeOf(c));
    expect(p.ids).toEqual(c.input_ids);
    expect([p.imageTokenOffset, p.imageTokenCount]).toEqual([c.image_token_offset, c.image_token_count]);
  });

  // What runtime's answer() does: the PNG through the image processor, the prompt from what it made
  // (the crop's size for LLaVA, the original size for OneVision's anyres, image_grid_thw for Qwen2-VL).
  it.each(cases.map((c, i) => [i, c] as const))('case %i from its PNG: promptImageShape(preprocessImage(png)) gives the same ids', async (_i, c) => {
    const at = (f: string): { json: unknown; file: string } | undefined => (existsSync(join(dir, f)) ? { json: readJson(dir, f), file: join(dir, f) } : undefined);
    const processor = findImageProcessorConfig({ processorConfig: at('processor_config.json'), preprocessorConfig: at('preprocessor_config.json') });
    const png = await Jimp.read(readFileSync(c.image));
    const pre = preprocessImage({ data: new Uint8Array(png.bitmap.data), width: png.bitmap.width, height: png.bitmap.height }, processor);
    expect(pre.shape).toEqual(c.pixel_values_shape);
    expect(prompt.prompt(c.question, promptImageShape(pre, processor)).ids).toEqual(c.input_ids);
  });
});
