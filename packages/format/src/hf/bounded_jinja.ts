/**
 * `@huggingface/jinja` rendering with bounded time and memory. A chat template is code from the
 * checkpoint: `{% for i in range(10**6) %}{% for j in range(10**6) %}` would run for hours, and
 * `{% set s = s + s %}` thirty times would build a gigabyte. The interpreter here is the library's,
 * with every evaluation charged against two budgets:
 * - the number of evaluations (a loop's body is evaluated per item), and
 * - the total size of their values (a string's length, a list's or a mapping's entries), which
 *   bounds the work of the built-in operations, linear in their operands' sizes (operands are
 *   evaluations too);
 * - a string longer than the output limit and an integer of magnitude above {@link MAX_TEMPLATE_INT}
 *   (a width for `indent`, a bound for `range`) end the render at once.
 * The globals are those `Template.render` sets, the same functions.
 */
import * as jinja from '@huggingface/jinja';

/*
 * The library's declarations import './runtime' without an extension, which ESM resolution cannot
 * follow: Environment and Interpreter are typed here by what this module uses of them.
 */
/** A parsed template node (opaque here). */
type Statement = object;
/** A runtime value: its JS value in `value`. */
interface RuntimeValue { readonly type: string; readonly value?: unknown }
interface EnvironmentLike { set(name: string, value: unknown): RuntimeValue }
interface InterpreterLike {
  run(program: Statement): RuntimeValue;
  evaluate(statement: Statement | undefined, environment: EnvironmentLike): RuntimeValue;
}
const Environment = jinja.Environment as unknown as new () => EnvironmentLike;
const Interpreter = jinja.Interpreter as unknown as new (env: EnvironmentLike) => InterpreterLike;
const { Template } = jinja;

export interface RenderLimits {
  /** Evaluations in one render. */
  steps: number;
  /** Total size of the values evaluated in one render (characters and entries). */
  size: number;
  /** Longest string a render may make (the output included), in UTF-16 code units. */
  maxChars: number;
}

/**
 * Far above a real chat template's one-turn render (the fixtures' templates take 34-53 evaluations,
 * the question a few times over); a render that hits a limit ends within a fraction of a second
 * (packages/format/bench/hostile_text.ts, docs/benchmarks.md).
 */
export const DEFAULT_RENDER_LIMITS: RenderLimits = { steps: 20_000, size: 16_000_000, maxChars: 1 << 20 };
/** Integers a template may compute: no chat template needs more, and widths or ranges beyond it only make memory. */
export const MAX_TEMPLATE_INT = 1 << 20;
/** Longest list `range` makes. */
export const MAX_TEMPLATE_RANGE = 1 << 16;
/** Longest template source accepted (real chat templates are a few KB). */
export const MAX_TEMPLATE_CHARS = 1 << 20;

export class TemplateLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateLimitError';
  }
}

function sizeOf(v: RuntimeValue): number {
  const inner = (v as { value?: unknown }).value;
  if (typeof inner === 'string' || Array.isArray(inner)) return inner.length;
  if (inner instanceof Map) return inner.size;
  return 0;
}

class BoundedInterpreter extends Interpreter {
  private steps = 0;
  private size = 0;
  constructor(env: EnvironmentLike, private readonly limits: RenderLimits) {
    super(env);
  }

  override evaluate(statement: Statement | undefined, environment: EnvironmentLike): RuntimeValue {
    const v = super.evaluate(statement, environment);
    const inner = (v as { value?: unknown }).value;
    if (typeof inner === 'string' && inner.length > this.limits.maxChars) {
      throw new TemplateLimitError(`the template makes a string of ${inner.length} characters, more than the limit of ${this.limits.maxChars}`);
    }
    if (typeof inner === 'number' && Number.isInteger(inner) && Math.abs(inner) > MAX_TEMPLATE_INT) {
      throw new TemplateLimitError(`the template computes the integer ${inner}, beyond the limit of ${MAX_TEMPLATE_INT}`);
    }
    if (++this.steps > this.limits.steps) throw new TemplateLimitError(`the template takes more than ${this.limits.steps} steps (a loop that does not end soon?)`);
    this.size += sizeOf(v);
    if (this.size > this.limits.size) throw new TemplateLimitError(`the template's values add up to more than ${this.limits.size} characters and items (output that grows without end?)`);
    return v;
  }
}

/** `strftime_now` as the library defines it (the formats it supports). */
function strftimeNow(format: string): string {
  const d = new Date();
  const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));
  return format.replace(/%[YmdbBHM%]/g, (t) => {
    switch (t) {
      case '%Y': return String(d.getFullYear());
      case '%m': return pad2(d.getMonth() + 1);
      case '%d': return pad2(d.getDate());
      case '%b': return new Intl.DateTimeFormat(undefined, { month: 'short' }).format(d);
      case '%B': return new Intl.DateTimeFormat(undefined, { month: 'long' }).format(d);
      case '%H': return pad2(d.getHours());
      case '%M': return pad2(d.getMinutes());
      default: return '%';
    }
  });
}

/** `range` as the library defines it, refusing a list longer than {@link MAX_TEMPLATE_RANGE} before making it. */
function boundedRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error('range() step must not be zero');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (!(n <= MAX_TEMPLATE_RANGE)) throw new TemplateLimitError(`range() of ${n} items exceeds the limit of ${MAX_TEMPLATE_RANGE}`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(start + i * step);
  return out;
}

/** A parsed template that renders within `limits` (throws TemplateLimitError beyond them). */
export class BoundedTemplate {
  private readonly template: jinja.Template;

  constructor(source: string, private readonly limits: RenderLimits = DEFAULT_RENDER_LIMITS) {
    if (source.length > MAX_TEMPLATE_CHARS) throw new TemplateLimitError(`the template has ${source.length} characters, more than the limit of ${MAX_TEMPLATE_CHARS}`);
    this.template = new Template(source);
  }

  render(items: Record<string, unknown>): string {
    const env = new Environment();
    // Template.render's globals (setupGlobals), range bounded.
    const globals: Record<string, unknown> = {
      false: false, true: true, none: null, True: true, False: false, None: null,
      raise_exception: (message: unknown) => { throw new Error(String(message)); },
      range: boundedRange, strftime_now: strftimeNow,
    };
    for (const [k, v] of Object.entries(globals)) env.set(k, v);
    for (const [k, v] of Object.entries(items)) env.set(k, v);
    const result = new BoundedInterpreter(env, this.limits).run(this.template.parsed as Statement);
    const out = (result as { value?: unknown }).value;
    if (typeof out !== 'string') throw new Error('the template did not render to text');
    return out;
  }
}
