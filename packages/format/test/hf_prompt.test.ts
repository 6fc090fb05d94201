import {
  ChatTemplate, HfPrompt, HfTokenizer, PromptTooLongError, hfPromptFromFiles, imageTokenCount, imageTokenRuleFromHf,
  resolveChatTemplate, selectBestResolution, type LlavaOnevisionImageTokens,
} from '@tfjs-mbq/format';
import {
  BYTE_FALLBACK_CONFIG, BYTE_LEVEL_CONFIG, BYTE_LEVEL_IDS as B, FALLBACK_IDS as F, LLAVA_TEMPLATE, ONEVISION_TEMPLATE, QWEN2VL_TEMPLATE,
  byteFallbackTokenizer, byteId, byteLevelTokenizer, utf8,
} from './helpers/tokenizers.js';

const ascii = (s: string): number[] => Array.from(s, (c) => byteId(c.charCodeAt(0)));

describe('LLaVA-1.5 prompts (LlavaProcessor)', () => {
  const llava = { processor: 'llava', imageToken: '<image>', patchSize: 14, numAdditionalImageTokens: 1, visionFeatureSelectStrategy: 'default' } as const;
  const tok = new HfTokenizer(byteFallbackTokenizer(), BYTE_FALLBACK_CONFIG);
  const prompt = new HfPrompt(tok, new ChatTemplate(LLAVA_TEMPLATE, 'chat_template.jinja'), llava);

  it('counts (H/patch)(W/patch) + CLS, minus CLS under "default"', () => {
    expect(imageTokenCount(llava, { height: 336, width: 336 })).toBe(576);
    expect(imageTokenCount({ ...llava, visionFeatureSelectStrategy: 'full' }, { height: 336, width: 336 })).toBe(577);
    expect(imageTokenCount({ ...llava, numAdditionalImageTokens: 0 }, { height: 42, width: 42 })).toBe(8);
  });

  it('renders the template and expands <image> (hand-computed ids)', () => {
    expect(prompt.text('what color?')).toBe('USER: <image>\nwhat color? ASSISTANT:');
    const p = prompt.prompt('what color?', { height: 42, width: 42 });
    expect(p).toEqual({
      ids: [
        F.bos, F.sp, ...ascii('USER:'), F.sp, ...new Array(9).fill(F.image),
        F.sp, byteId(0x0a), F.w, F.ha, F.t, F.color, byteId(0x3f), F.sp, ...ascii('ASSISTANT:'),
      ],
      imageTokenOffset: 8, imageTokenCount: 9,
    });
    expect(prompt.continuation('what')).toEqual([F.what]);
    expect(prompt.eosTokenId).toBe(F.eos);
  });

  it('refuses a prompt over the model\'s positions and a question holding the image token', () => {
    const short = new HfPrompt(tok, new ChatTemplate(LLAVA_TEMPLATE, 'chat_template.jinja'), llava, { maxPromptTokens: 20 });
    expect(() => short.prompt('what color?', { height: 42, width: 42 })).toThrow(PromptTooLongError);
    expect(() => short.prompt('what color?', { height: 42, width: 42 }, 'answer')).toThrow('answer: the prompt has 35 tokens; the model takes at most 20 positions');
    expect(() => prompt.prompt('<image> again', { height: 42, width: 42 })).toThrow('question: the question contains the image token <image>');
    const tiny = new HfPrompt(tok, new ChatTemplate(LLAVA_TEMPLATE, 'chat_template.jinja'), llava, { maxQuestionChars: 5 });
    expect(() => tiny.prompt('what color?', { height: 42, width: 42 })).toThrow('question: the text has 11 characters');
  });
});

describe('LLaVA-OneVision prompts (LlavaOnevisionProcessor, single image)', () => {
  const ov: LlavaOnevisionImageTokens = {
    processor: 'llava-onevision', imageToken: '<image>', numImageTokens: 16, visionFeatureSelectStrategy: 'full',
    imageGridPinpoints: [[56, 56]], visionAspectRatio: 'anyres_max_9',
  };
  const tile = { height: 56, width: 56 };

  it('picks the pinpoint that keeps most of the image, then wastes least', () => {
    const pins: Array<[number, number]> = [[56, 56], [56, 112], [112, 56]];
    expect(selectBestResolution(100, 200, pins)).toEqual([56, 112]);
    expect(selectBestResolution(200, 100, pins)).toEqual([112, 56]);
    expect(selectBestResolution(64, 64, pins)).toEqual([56, 56]);
  });

  it('counts base + unpadded tile features + one newline per row (hand-computed)', () => {
    // 64x64 on one 56x56 tile: base 16, tile 4x4 = 16, 4 newlines
    expect(imageTokenCount(ov, { ...tile, originalHeight: 64, originalWidth: 64 })).toBe(36);
    const wide = { ...ov, imageGridPinpoints: [[56, 56], [56, 112], [112, 56]] as Array<[number, number]> };
    // 100x200 on 56x112: 4x8 features, no padding: 32 + 4 + 16
    expect(imageTokenCount(wide, { ...tile, originalHeight: 100, originalWidth: 200 })).toBe(52);
    // 100x300 on 56x112: height unpadded to int(100 * 8/300) = 2 -> 4 - 2*1 rows: 2x8 + 2 + 16
    expect(imageTokenCount(wide, { ...tile, originalHeight: 100, originalWidth: 300 })).toBe(34);
    expect(imageTokenCount({ ...wide, visionFeatureSelectStrategy: 'default' }, { ...tile, originalHeight: 100, originalWidth: 300 })).toBe(33);
  });

  it('caps the tile features at anyres_max_N tiles', () => {
    // 1x1 base features, 4x4 tiles of one feature each (16 > 1.1^2 * 1): ratio sqrt(16/1) = 4 -> 1x1 + 1 + 1
    const capped = { ...ov, numImageTokens: 1, imageGridPinpoints: [[224, 224]] as Array<[number, number]>, visionAspectRatio: 'anyres_max_1' };
    expect(imageTokenCount(capped, { height: 56, width: 56, originalHeight: 224, originalWidth: 224 })).toBe(3);
  });

  it('renders the Qwen2 chat template and expands <image> (hand-computed ids)', () => {
    const tok = new HfTokenizer(byteLevelTokenizer(), BYTE_LEVEL_CONFIG);
    const prompt = new HfPrompt(tok, new ChatTemplate(ONEVISION_TEMPLATE, 'chat_template.jinja'), ov);
    expect(prompt.text('what color?')).toBe('<|im_start|>user\n<image>\nwhat color?<|im_end|>\n<|im_start|>assistant\n');
    const p = prompt.prompt('what color?', { ...tile, originalHeight: 64, originalWidth: 64 });
    expect(p.ids).toEqual([
      B.imStart, ...utf8('user\n'), ...new Array(36).fill(B.image), 0x0a, B.what, B.Gcolor, 0x3f, B.imEnd, 0x0a, B.imStart, ...utf8('assistant\n'),
    ]);
    expect([p.imageTokenOffset, p.imageTokenCount]).toEqual([6, 36]);
  });
});

describe('Qwen2-VL prompts (Qwen2VLProcessor)', () => {
  const rule = { processor: 'qwen2-vl', imageToken: '<|image_pad|>', mergeSize: 2 } as const;

  it('repeats <|image_pad|> t*h*w/merge^2 times inside vision_start/vision_end', () => {
    expect(imageTokenCount(rule, { height: 84, width: 84, gridThw: [1, 6, 6] })).toBe(9);
    const tok = new HfTokenizer(byteLevelTokenizer(), BYTE_LEVEL_CONFIG);
    const prompt = new HfPrompt(tok, new ChatTemplate(QWEN2VL_TEMPLATE, 'chat_template.jinja'), rule);
    const system = '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n';
    expect(prompt.text('what color?')).toBe(`${system}<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>what color?<|im_end|>\n<|im_start|>assistant\n`);
    const p = prompt.prompt('what color?', { height: 84, width: 84, gridThw: [1, 6, 6] });
    const head = tok.encode(`${system}<|im_start|>user\n`);
    expect(p.ids).toEqual([...head, B.visionStart, ...new Array(9).fill(B.imagePad), B.visionEnd, B.what, B.Gcolor, 0x3f, B.imEnd, 0x0a, B.imStart, ...utf8('assistant\n')]);
    expect([p.imageTokenOffset, p.imageTokenCount]).toEqual([head.length + 1, 9]);
    expect(() => prompt.prompt('what color?', { height: 84, width: 84 })).toThrow('qwen2-vl: the image token count needs image_grid_thw');
  });
});

describe('reading the rule and the template from checkpoint files', () => {
  it('takes processor_config.json first, config.json where the processor would', () => {
    const config = { model_type: 'llava', vision_feature_select_strategy: 'default', vision_config: { patch_size: 14 } };
    expect(imageTokenRuleFromHf({ config, processorConfig: { patch_size: 7, num_additional_image_tokens: 1 } }))
      .toEqual({ processor: 'llava', imageToken: '<image>', patchSize: 7, numAdditionalImageTokens: 1, visionFeatureSelectStrategy: 'default' });
    expect(imageTokenRuleFromHf({ config })).toMatchObject({ patchSize: 14, numAdditionalImageTokens: 0 });
    const ov = imageTokenRuleFromHf({
      config: { model_type: 'llava_onevision', vision_config: { image_size: 56, patch_size: 14 }, vision_aspect_ratio: 'anyres_max_9' },
      processorConfig: { image_processor: { image_grid_pinpoints: [[56, 56]] }, vision_feature_select_strategy: 'full' },
    });
    expect(ov).toEqual({ processor: 'llava-onevision', imageToken: '<image>', numImageTokens: 16, visionFeatureSelectStrategy: 'full', imageGridPinpoints: [[56, 56]], visionAspectRatio: 'anyres_max_9' });
    expect(imageTokenRuleFromHf({ config: { model_type: 'qwen2_vl' }, preprocessorConfig: { merge_size: 2 } })).toEqual({ processor: 'qwen2-vl', imageToken: '<|image_pad|>', mergeSize: 2 });
  });

  it('refuses an unsupported model type or a bad setting with one line naming the file', () => {
    expect(() => imageTokenRuleFromHf({ config: { model_type: 'idefics3' } })).toThrow('config.json: model_type "idefics3" has no supported processor (supported: llava, llava_onevision, qwen2_vl)');
    expect(() => imageTokenRuleFromHf({ config: { model_type: 'llava', vision_config: { patch_size: 14 } }, processorConfig: { vision_feature_select_strategy: 'cls' } }))
      .toThrow('processor_config.json vision_feature_select_strategy must be "default" or "full", got "cls"');
  });

  it('finds the template in chat_template.jinja, chat_template.json, then tokenizer_config.json', () => {
    expect(resolveChatTemplate({ jinja: 'A', json: { chat_template: 'B' }, tokenizerConfig: { chat_template: 'C' } })).toEqual({ source: 'A', file: 'chat_template.jinja' });
    expect(resolveChatTemplate({ json: { chat_template: 'B' }, tokenizerConfig: { chat_template: 'C' } })).toEqual({ source: 'B', file: 'chat_template.json' });
    expect(resolveChatTemplate({ tokenizerConfig: { chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D' }] } })).toEqual({ source: 'D', file: 'tokenizer_config.json' });
    expect(resolveChatTemplate({ tokenizerConfig: {} })).toBeUndefined();
    expect(() => new ChatTemplate('{% for %}', 'm/chat_template.jinja')).toThrow(/^m\/chat_template.jinja: cannot parse the chat template/);
  });

  it('builds the whole prompt from the files, and says which file is missing', () => {
    const files = {
      tokenizer: byteFallbackTokenizer(), tokenizerConfig: BYTE_FALLBACK_CONFIG, chatTemplateJson: { chat_template: LLAVA_TEMPLATE },
      config: { model_type: 'llava', vision_feature_select_strategy: 'default', vision_config: { patch_size: 14 } },
      processorConfig: { patch_size: 14, num_additional_image_tokens: 1 },
    };
    const p = hfPromptFromFiles(files, { location: 'm' });
    expect(p.prompt('what color?', { height: 42, width: 42 }).imageTokenCount).toBe(9);
    expect(() => hfPromptFromFiles({ ...files, chatTemplateJson: undefined }, { location: 'm' })).toThrow('m/tokenizer_config.json: the checkpoint has no chat template');
  });
});
