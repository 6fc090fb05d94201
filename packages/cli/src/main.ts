import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import type { Argv, CommandModule, MiddlewareFunction } from 'yargs';
import { commands as allCommands, type CommandOptions } from './commands/index.js';
import { checkArguments, suggestOptions, UsageError } from './ui/arguments.js';
import { printable } from './ui/terminal_text.js';

/** Thrown from yargs' fail handler once the error is printed, to stop the command from running. */
const reported = new Error('tfjs-mbq: reported');

/** This package's version (not that of the app it is installed in, which yargs would find from the cwd). */
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** yargs' getOptions(): public API that @types/yargs does not declare. */
function yargsOptions(y: unknown): { key: Record<string, unknown>; array: string[] } {
  return (y as { getOptions(): { key: Record<string, unknown>; array: string[] } }).getOptions();
}

/** Option names of each command (for "did you mean" suggestions), read from its builder. */
function optionNames(command: CommandModule<object, never>): string[] {
  const y = yargs([]);
  if (typeof command.builder === 'function') command.builder(y as never);
  return Object.keys(yargsOptions(y).key);
}

/** Runs the CLI on the given arguments and resolves to the exit code. Errors are printed, not thrown. */
export async function main(argv: string[], options: CommandOptions = {}): Promise<number> {
  const commands = allCommands(options);
  let exitCode = 0;
  const usageError = (message: string): void => {
    exitCode = 2;
    process.stderr.write(`tfjs-mbq: ${printable(message)}\nRun tfjs-mbq --help for usage.\n`);
  };
  let cli: Argv = yargs(argv)
    .scriptName('tfjs-mbq')
    .usage('$0 <command> [options]\n\nModality-Balanced Quantization (MBQ) of vision-language models for TensorFlow.js.')
    .strict()
    .demandCommand(1, 'Name a command: convert, import, eval, inspect or bench.')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(VERSION)
    .option('verbose', { type: 'boolean', default: false, global: true, describe: 'details: why `auto` skipped a backend' })
    .wrap(Math.min(110, process.stdout.columns || 100))
    // Runs after yargs' own checks and before any command: nothing has started yet.
    // yargs passes its instance as the second argument (not in @types/yargs): the declared array options.
    .middleware(((args: Record<string, unknown>, y: unknown) => checkArguments(args, argv, yargsOptions(y).array)) as unknown as MiddlewareFunction)
    .fail((msg, err) => {
      // yargs' own errors (YError: a missing value, a coerce failure) are usage errors too.
      if (!err || err.name === 'YError') {
        const command = commands.find((c) => String(c.command).split(' ')[0] === argv[0]);
        usageError(`${err ? err.message : msg}${suggestOptions(err ? err.message : msg, command ? optionNames(command) : [])}`);
      } else {
        exitCode = 1;
        process.stderr.write(`tfjs-mbq: ${printable(err.message)}\n`);
      }
      // Without a throw yargs goes on to run the command: a mistyped option would convert anyway.
      throw reported;
    });
  for (const command of commands) {
    cli = cli.command(command as never);
  }
  try {
    await cli.parseAsync();
  } catch (e) {
    if (e instanceof UsageError) usageError(e.message);
    // A command's rejected handler reaches .fail() (printed, exit 1) and then rejects here with its own
    // error: printing that again would repeat the line (seen on eval's errors).
    else if (e !== reported && exitCode === 0) throw e;
  }
  return exitCode || (process.exitCode as number | undefined) || 0;
}
