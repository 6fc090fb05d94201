/**
 * Paths that model and data files name (shard paths in model.json, image paths in manifests) are
 * relative to their directory or base URL and must stay inside it. Checked as text here, both as
 * written and percent-decoded (a server decodes `%2e%2e/` to `../`); the sources check again
 * after resolving links and redirects.
 */

/** Why `p` cannot name a file inside its directory, or undefined if it can. */
export function relativePathProblem(p: string): string | undefined {
  if (p === '') return 'is empty';
  if (/[\u0000-\u001f\u007f]/.test(p)) return 'holds control characters';
  let decoded: string;
  try {
    decoded = decodeURIComponent(p);
  } catch {
    return 'holds a malformed percent-escape';
  }
  for (const form of decoded === p ? [p] : [p, decoded]) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(form)) return 'is a URL';
    if (/^[\\/]/.test(form) || /^[a-zA-Z]:/.test(form)) return 'is absolute';
    if (form.split(/[\\/]/).includes('..')) return "climbs out with '..'";
    if (/[\u0000-\u001f\u007f]/.test(form)) return 'holds control characters';
  }
  return undefined;
}

/** `p` with `.` segments and repeated separators removed, percent-decoded: one spelling per file. */
export function canonicalRelativePath(p: string): string {
  let decoded = p;
  try { decoded = decodeURIComponent(p); } catch { /* relativePathProblem reports it */ }
  return decoded.split(/[\\/]+/).filter((s) => s !== '' && s !== '.').join('/');
}

/** Joins a base location (directory or URL) and a relative file name with exactly one '/'. */
export function joinLocation(base: string, file: string): string {
  return `${base.replace(/\/+$/, '')}/${file.replace(/^\.?\/+/, '')}`;
}
