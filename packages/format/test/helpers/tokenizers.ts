/**
 * Small tokenizer.json files built by hand, laid out as the `tokenizers` library saves them, so
 * test ids can be worked out on paper:
 * - byte-level BPE (Qwen2's layout): token id = the UTF-8 byte for the 256 single bytes, then merges;
 * - BPE with byte fallback (Llama's layout): <unk> <s> </s>, <0x00>..<0xFF> at 3..258, then pieces.
 */

/** GPT-2's byte -> printable character table (bytes_to_unicode). */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const table: string[] = new Array(256);
  for (const b of bs) table[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (table[b] === undefined) table[b] = String.fromCodePoint(256 + n++);
  return table;
}

const QWEN_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function added(id: number, content: string): object {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** Byte-level ids: 0..255 the bytes, 256.. the merges below, then the added tokens. */
export const BYTE_LEVEL_IDS = { what: 258, Gcolor: 263, imStart: 264, imEnd: 265, image: 266, visionStart: 267, visionEnd: 268, imagePad: 269 } as const;

export function byteLevelTokenizer(): object {
  const u = bytesToUnicode();
  const vocab: Record<string, number> = {};
  u.forEach((ch, b) => { vocab[ch] = b; });
  const merges: Array<[string, string]> = [['w', 'h'], ['wh', 'a'], ['wha', 't'], ['Ġ', 'c'], ['o', 'l'], ['Ġc', 'ol'], ['o', 'r'], ['Ġcol', 'or']];
  merges.forEach(([a, b], i) => { vocab[a + b] = 256 + i; });
  const specials = ['<|im_start|>', '<|im_end|>', '<image>', '<|vision_start|>', '<|vision_end|>', '<|image_pad|>'];
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: specials.map((s, i) => added(264 + i, s)),
    normalizer: { type: 'NFC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: QWEN_SPLIT }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ] },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
}

export const BYTE_LEVEL_CONFIG = { eos_token: '<|im_end|>', pad_token: '<|im_start|>', model_max_length: 512 };

/** Byte-fallback ids: <0xNN> is 3 + NN; pieces from 259; added <image> 277, <pad> 278. */
export const FALLBACK_IDS = { unk: 0, bos: 1, eos: 2, sp: 259, w: 260, ha: 269, t: 263, what: 271, color: 276, image: 277, pad: 278 } as const;
export const byteId = (b: number): number => 3 + b;

export function byteFallbackTokenizer(): object {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  for (const piece of ['▁', 'w', 'h', 'a', 't', 'c', 'o', 'l', 'r']) vocab[piece] = Object.keys(vocab).length;
  const merges: Array<[string, string]> = [['▁', 'w'], ['h', 'a'], ['▁w', 'ha'], ['▁wha', 't'], ['c', 'o'], ['l', 'o'], ['co', 'lo'], ['colo', 'r'], ['▁', 'color']];
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>'), added(277, '<image>'), added(278, '<pad>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: { type: 'Sequence', decoders: [
      { type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 },
    ] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges },
  };
}

export const BYTE_FALLBACK_CONFIG = { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>' };

export const LLAVA_TEMPLATE =
  "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': ' }}{% endif %}" +
  "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}" +
  "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' ' }}{% endfor %}" +
  "{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";

export const ONEVISION_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' }}" +
  "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}" +
  "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}" +
  "{{ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

export const QWEN2VL_TEMPLATE =
  "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}" +
  "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}" +
  "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n" +
  "{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' %}" +
  "<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}" +
  "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/** UTF-8 bytes of `s` (byte-level ids of unmerged text). */
export function utf8(s: string): number[] {
  return Array.from(new TextEncoder().encode(s));
}
