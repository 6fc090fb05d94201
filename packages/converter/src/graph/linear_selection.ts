/**
 * Which decoder-block linears are quantized: `include` / `exclude` glob patterns (as
 * tensorflowjs_converter users choose which weights to quantize), matched against each linear's
 * label (`layers.0.q_proj`) or graph node name (`lm/layers.0/self_attn/q_proj/MatMul`).
 * `*` is any run of characters, `?` one character. Linears outside the blocks (vision tower,
 * projector, lm_head) are never quantized, so a pattern matching only those is refused.
 */
import { ConversionError } from '../io/errors.js';

export interface LinearName {
  /** Graph node id. */
  node: string;
  /** Report label, e.g. `layers.0.q_proj`. */
  label: string;
}

export interface LinearSelection {
  /** Node ids to quantize, in the order given. */
  quantize: string[];
  /** Node ids of block linears kept float by the patterns. */
  keptFloat: string[];
}

/** The whole-string regular expression of a glob pattern. */
function globRegExp(pattern: string): RegExp {
  const body = [...pattern].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`);
}

/** A pattern problem, checked before anything loads: empty, or not a string. */
export function linearPatternProblem(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string') return `must be a string, got ${typeof pattern}`;
  if (pattern.trim() === '') return 'is empty';
  return undefined;
}

const matches = (re: RegExp, l: LinearName): boolean => re.test(l.label) || re.test(l.node);

/**
 * Block linears selected by the patterns: those matching an `include` pattern (all when none is
 * given), less those matching an `exclude` pattern. A pattern that matches no block linear is
 * refused, naming the other linears it matches if any (they are kept float anyway).
 */
export function selectLinears(block: readonly LinearName[], other: readonly LinearName[], include: readonly string[], exclude: readonly string[]): LinearSelection {
  const check = (option: string, pattern: string): RegExp => {
    const re = globRegExp(pattern);
    if (!block.some((l) => matches(re, l))) {
      const outside = other.filter((l) => matches(re, l)).map((l) => l.label);
      const why = outside.length
        ? `it matches only ${outside.slice(0, 3).join(', ')}${outside.length > 3 ? ', ...' : ''}, outside the decoder blocks, which always stay float`
        : `it matches no decoder-block linear (e.g. ${block.slice(0, 2).map((l) => l.label).join(', ')}; \`tfjs-mbq inspect\` lists them)`;
      throw new ConversionError('OPTION', `--${option} '${pattern}': ${why}`);
    }
    return re;
  };
  const inc = include.map((p) => check('include', p));
  const exc = exclude.map((p) => check('exclude', p));
  const quantize: string[] = [];
  const keptFloat: string[] = [];
  for (const l of block) {
    const chosen = (inc.length === 0 || inc.some((re) => matches(re, l))) && !exc.some((re) => matches(re, l));
    (chosen ? quantize : keptFloat).push(l.node);
  }
  if (quantize.length === 0) throw new ConversionError('OPTION', `--include/--exclude leave no linear to quantize (${block.length} block linears, all excluded)`);
  return { quantize, keptFloat };
}
