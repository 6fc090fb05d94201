/**
 * The signals the CLI ends on cleanly: the parent relays them to its child (filtered_stderr.ts),
 * the conversion supervisor (worker/supervise.ts) and bench's scratch guard
 * (commands/scratch_guard.ts) clean up on them through @tfjs-mbq/converter's
 * registerSignalCleanup. One list, so a signal the child handles is always one the parent relays.
 */
export const HANDLED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
