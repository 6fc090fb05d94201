/**
 * Text from files we did not write (node names in a model.json, answer types in a manifest) is
 * printed with its control characters escaped: C0 (ESC starts terminal commands), DEL, C1 (0x9b is
 * a one-byte CSI) and the bidirectional overrides that reorder what a line shows.
 */

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

function escape(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `s` with every control character written as `\xNN` / `\uNNNN` (newlines and tabs too). */
export function printable(s: string): string {
  return s.replace(CONTROL, escape);
}

/** Each line of `text` made printable; the line breaks themselves are kept. */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}

/** JSON for a terminal: JSON.stringify escapes C0 only; DEL, C1 and the overrides become \u escapes (still valid JSON). */
export function terminalJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(/[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
