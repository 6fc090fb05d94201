import type { CommandModule } from 'yargs';

/** Every command of the CLI; each lives in its own file beside this one. */
export const commands: CommandModule<object, never>[] = [];
