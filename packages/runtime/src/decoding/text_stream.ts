/**
 * The text of a generation as it streams, token by token, in time linear in its length: each
 * token decodes only a window of the ids (those since the text last grew, after the ids of the
 * piece before them for context: a SentencePiece decoder strips the first token's space, a word
 * joiner puts spaces between words), as text-generation-inference's incremental detokenizer does.
 * A token whose bytes end mid-character (byte-level BPE, byte-fallback `<0xNN>` pieces) decodes
 * to a trailing U+FFFD: its text is held back until the character is complete.
 */
import type { TextTokenizer } from '@tfjs-mbq/format';

export class TextStream {
  /** Non-special ids pushed so far (decode leaves special tokens out, so they never enter a window). */
  private readonly ids: number[] = [];
  /** ids[prefix, read) gave the text already emitted last time; ids[read, ...) are not emitted yet. */
  private prefix = 0;
  private read = 0;
  private emitted = '';

  constructor(private readonly tokenizer: Pick<TextTokenizer, 'decode' | 'specialIds'>) {}

  /** The text so far: the concatenation of every delta. */
  get text(): string {
    return this.emitted;
  }

  /**
   * Adds a token; returns the text it completes ('' while a character is incomplete, and for a
   * special token). `last`: no token follows, so the held-back text (U+FFFD for incomplete bytes,
   * as a full decode gives it) is emitted now.
   */
  push(id: number, last = false): string {
    if (!this.tokenizer.specialIds.has(id)) this.ids.push(id);
    if (this.ids.length === this.read && !last) return '';
    const before = this.tokenizer.decode(this.ids.slice(this.prefix, this.read));
    const now = this.tokenizer.decode(this.ids.slice(this.prefix));
    if (now.length <= before.length && !last) return '';
    if (now.endsWith('\uFFFD') && !last) return '';
    const delta = now.slice(before.length);
    this.prefix = this.read;
    this.read = this.ids.length;
    this.emitted += delta;
    return delta;
  }
}
