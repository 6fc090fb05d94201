/** Typed reads of config.json fields with transformers' defaults; errors name the file and the field. */
import { ImportError } from '../errors.js';

export type Json = Record<string, unknown>;

export function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads fields of one config object (`where` e.g. "config.json text_config") with defaults. */
export class ConfigFields {
  constructor(readonly obj: Json, readonly file: string, readonly where: string) {}

  private bad(key: string, want: string): never {
    throw new ImportError('CONFIG', `${this.file}: ${this.where}${this.where ? '.' : ''}${key} must be ${want}, got ${JSON.stringify(this.obj[key])}`, this.file);
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  int(key: string, dflt?: number, min = 1): number {
    if (!this.has(key)) {
      if (dflt === undefined) this.bad(key, `an integer >= ${min}`);
      return dflt;
    }
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) this.bad(key, `an integer >= ${min}`);
    return v;
  }

  /**
   * A finite number > 0: every real-valued field read (norm epsilons, RoPE theta and factor, MLP
   * ratio) is a divisor, a root or a log base, and 0 or below makes NaN or infinite weights.
   */
  num(key: string, dflt?: number): number {
    if (!this.has(key)) {
      if (dflt === undefined) this.bad(key, 'a number > 0');
      return dflt;
    }
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) this.bad(key, 'a finite number > 0');
    return v;
  }

  bool(key: string, dflt: boolean): boolean {
    if (!this.has(key)) return dflt;
    const v = this.obj[key];
    if (typeof v !== 'boolean') this.bad(key, 'true or false');
    return v;
  }

  oneOf<S extends string>(key: string, allowed: readonly S[], dflt?: S): S {
    if (!this.has(key)) {
      if (dflt === undefined) this.bad(key, `one of ${allowed.join(', ')}`);
      return dflt;
    }
    const v = this.obj[key];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.bad(key, `one of ${allowed.join(', ')}`);
    return v as S;
  }

  record(key: string): ConfigFields | undefined {
    if (!this.has(key)) return undefined;
    const v = this.obj[key];
    if (!isRecord(v)) this.bad(key, 'an object');
    return new ConfigFields(v, this.file, this.where ? `${this.where}.${key}` : key);
  }
}
