/**
 * Argument checks every command gets before it starts (issue 15 §6, issue 14 §4): an option given
 * twice, a number that is not one (saying what was given), a value that was not UTF-8, and a
 * "did you mean" for a mistyped option.
 */

/** A usage error: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The value given for `--key` on the command line, if any (`--key v` or `--key=v`). */
function rawValue(argv: readonly string[], key: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${key}`) return argv[i + 1];
    if (a.startsWith(`--${key}=`)) return a.slice(key.length + 3);
  }
  return undefined;
}

/** How the user wrote `key`: `--key` for an option, `<key>` for a positional. */
function shown(argv: readonly string[], key: string): string {
  return argv.some((a) => a === `--${key}` || a.startsWith(`--${key}=`)) ? `--${key}` : `<${key}>`;
}

/**
 * yargs middleware: throws a UsageError naming the option. `args` is what yargs parsed (camelCase
 * aliases included), `argv` the raw command line, `arrayOptions` the options declared `array`
 * (given several times on purpose).
 */
export function checkArguments(args: Record<string, unknown>, argv: readonly string[], arrayOptions: readonly string[] = []): void {
  // yargs fills in the default for a number option given without a value (`--w-bits --out x`).
  argv.forEach((a, i) => {
    if (!a.startsWith('--') || a.includes('=') || a === '--') return;
    const key = a.slice(2);
    const next = argv[i + 1];
    if (Object.hasOwn(args, key) && typeof args[key] !== 'boolean' && (next === undefined || next.startsWith('--'))) throw new UsageError(`--${key} needs a value`);
  });
  // yargs lists an option under its own name and a camelCase alias; check each option once.
  const keys = Object.keys(args).filter((k) => k !== '_' && k !== '$0' && !(/[A-Z]/.test(k) && Object.hasOwn(args, k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`))));
  for (const key of keys) {
    const value = args[key];
    if (Array.isArray(value) && !arrayOptions.includes(key)) {
      throw new UsageError(`${shown(argv, key)} given ${value.length} times (${value.map(String).join(', ')}); give it once`);
    }
    if (typeof value === 'number' && Number.isNaN(value)) {
      const raw = rawValue(argv, key);
      throw new UsageError(`--${key} must be a number, got "${raw ?? ''}"`);
    }
    // Node decodes the command line as UTF-8, turning each invalid byte into U+FFFD: a path
    // would be written under another name than the one typed.
    if (typeof value === 'string' && value.includes('\uFFFD')) {
      throw new UsageError(`${shown(argv, key)} "${value}" is not valid UTF-8 (its bytes would be replaced by U+FFFD); use a UTF-8 name`);
    }
  }
  // A boolean given twice (`--fuse --no-fuse`) is no array to yargs: the last one silently won.
  const flags = new Map<string, string[]>();
  for (const a of argv) {
    if (a === '--') break;
    if (!a.startsWith('--')) continue;
    const name = a.slice(2).split('=')[0]!;
    const key = name.startsWith('no-') && typeof args[name.slice(3)] === 'boolean' ? name.slice(3) : name;
    if (typeof args[key] !== 'boolean' || arrayOptions.includes(key)) continue;
    flags.set(key, [...(flags.get(key) ?? []), a]);
  }
  for (const [key, given] of flags) {
    if (given.length > 1) throw new UsageError(`--${key} given ${given.length} times (${given.join(', ')}); give it once`);
  }
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * " (did you mean --w-bits?)" for yargs' "Unknown argument(s): w-bit, wBit" when a known option
 * is within a third of its length in edits; "" otherwise.
 */
export function suggestOptions(message: string, known: readonly string[]): string {
  const m = /^Unknown arguments?: (.+)$/.exec(message);
  if (!m) return '';
  const unknown = m[1]!.split(', ').filter((u) => !/[A-Z]/.test(u));
  const hints = unknown.flatMap((u) => {
    const best = known.map((k) => ({ k, d: distance(u, k) })).sort((x, y) => x.d - y.d)[0];
    return best && best.d <= Math.max(1, Math.floor(u.length / 3)) ? [`--${best.k}`] : [];
  });
  return hints.length ? ` (did you mean ${[...new Set(hints)].join(', ')}?)` : '';
}
