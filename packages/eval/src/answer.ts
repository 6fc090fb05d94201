/** When a predicted answer counts as correct. */

/** Normal form for exact-match comparison: lower case, tokens separated by single spaces. */
export function normalizeAnswer(text: string): string {
  return (text.toLowerCase().match(/\w+|[^\w\s]+/g) ?? []).join(' ');
}
