import yargs from 'yargs';
import type { Argv } from 'yargs';
import { commands } from './commands/index.js';

/** Thrown from yargs' fail handler once the error is printed, to stop the command from running. */
const reported = new Error('tfjs-mbq: reported');

/** Runs the CLI on the given arguments and resolves to the exit code. Errors are printed, not thrown. */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  let cli: Argv = yargs(argv)
    .scriptName('tfjs-mbq')
    .usage('$0 <command> [options]\n\nModality-Balanced Quantization (MBQ) of vision-language models for TensorFlow.js.')
    .strict()
    .demandCommand(1, 'Name a command: convert, import, eval, inspect or bench.')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      exitCode = err ? 1 : 2;
      process.stderr.write(`tfjs-mbq: ${err ? err.message : msg}\n`);
      if (!err) process.stderr.write('Run tfjs-mbq --help for usage.\n');
      // Without a throw yargs goes on to run the command: a mistyped option would convert anyway.
      throw reported;
    });
  for (const command of commands) {
    cli = cli.command(command as never);
  }
  try {
    await cli.parseAsync();
  } catch (e) {
    if (e !== reported) throw e;
  }
  return exitCode || (process.exitCode as number | undefined) || 0;
}
