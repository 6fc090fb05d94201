/**
 * The one place that answers SIGINT/SIGTERM/SIGHUP for cleanups (the atomic output directory, the
 * CLI's conversion supervisor, bench's scratch copy). While any cleanup is registered for a signal,
 * one process handler listens for it; when the signal comes, the cleanups registered for it run
 * once, newest first (a later one may depend on an earlier one's files), and the process then ends
 * by the signal itself: the handlers are removed and the signal raised again, so the default action
 * ends the process (exit status 128 + its number in a shell). With nothing registered the handlers
 * are gone, so a library user keeps the default behaviour.
 */

/** Runs on the signal; a returned promise is awaited before the next cleanup (and the end). */
export type SignalCleanup = (signal: NodeJS.Signals) => void | Promise<void>;

interface Registration {
  readonly cleanup: SignalCleanup;
  readonly signals: readonly NodeJS.Signals[];
}

/** In registration order. */
const registered: Registration[] = [];
const listening = new Set<NodeJS.Signals>();
/** A signal is being handled: further signals are swallowed until the process ends by it. */
let ending = false;

/** Listens for exactly the signals some registration covers (all of them while ending). */
function syncHandlers(): void {
  const wanted = new Set(registered.flatMap((r) => r.signals));
  for (const s of wanted) {
    if (!listening.has(s)) { listening.add(s); process.on(s, onSignal); }
  }
  if (ending) return;
  for (const s of listening) {
    if (!wanted.has(s)) { listening.delete(s); process.off(s, onSignal); }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (ending) return;
  ending = true;
  const due = registered.filter((r) => r.signals.includes(signal)).reverse();
  for (const r of due) registered.splice(registered.indexOf(r), 1);
  runFrom(due, 0, signal);
}

/** Runs `due[at..]` synchronously until a cleanup returns a promise; then continues when it settles. */
function runFrom(due: Registration[], at: number, signal: NodeJS.Signals): void {
  for (let i = at; i < due.length; i++) {
    let result: void | Promise<void>;
    try {
      result = due[i]!.cleanup(signal);
    } catch (e) {
      reportFailure(signal, e);
      continue;
    }
    if (result instanceof Promise) {
      void result.catch((e: unknown) => reportFailure(signal, e)).then(() => runFrom(due, i + 1, signal));
      return;
    }
  }
  ending = false;
  syncHandlers();
  // process.exit() waits for the libuv thread pool, where a read of a FIFO or a stalled network
  // file system never returns: end the way the signal would have ended us, at once.
  process.kill(process.pid, signal);
}

/** A failed cleanup must not keep the others from running or the process from ending. */
function reportFailure(signal: NodeJS.Signals, e: unknown): void {
  process.stderr.write(`\ntfjs-mbq: interrupted by ${signal}; a cleanup failed: ${e instanceof Error ? e.message : String(e)}\n`);
}

/**
 * Runs `cleanup` when one of `signals` comes, then ends the process by it. Returns the
 * unregistration (idempotent; a no-op once the cleanup has run).
 */
export function registerSignalCleanup(signals: readonly NodeJS.Signals[], cleanup: SignalCleanup): () => void {
  const registration: Registration = { cleanup, signals: [...signals] };
  registered.push(registration);
  syncHandlers();
  return () => {
    const at = registered.indexOf(registration);
    if (at < 0) return;
    registered.splice(at, 1);
    syncHandlers();
  };
}
