import type { CommandModule } from 'yargs';
import { convertCommand } from './convert.js';
import { inspectCommand } from './inspect.js';
import { evalCommand } from './eval.js';
import { benchCommand } from './bench.js';
import { importCommand } from './import.js';

export interface CommandOptions {
  /** Run conversions in a worker thread started from this module (see convertCommand). */
  convertWorker?: URL;
}

/** Every command of the CLI; each lives in its own file beside this one. */
export const commands = (opts: CommandOptions = {}): CommandModule<object, never>[] => [convertCommand(opts.convertWorker) as unknown as CommandModule<object, never>, inspectCommand as unknown as CommandModule<object, never>, evalCommand as unknown as CommandModule<object, never>, benchCommand as unknown as CommandModule<object, never>, importCommand as unknown as CommandModule<object, never>];
