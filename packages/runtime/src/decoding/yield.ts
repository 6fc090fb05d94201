/**
 * Lets the event loop run between decode steps, so that a click, a worker message or an abort
 * arriving during generation is handled before the next step (awaiting a tensor read alone may
 * resolve as a microtask, which runs before any event). Not `scheduler.yield()`: its continuation
 * is prioritised over waiting tasks, so a worker's incoming abort message could wait until the end.
 */
let channel: MessageChannel | undefined;
const waiting: Array<() => void> = [];

export function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate;
  if (typeof immediate === 'function') return new Promise((resolve) => { immediate(resolve); });
  if (typeof MessageChannel === 'function') {
    // A task, queued behind events already waiting; not clamped to 4 ms as nested setTimeout(0) is.
    if (!channel) {
      channel = new MessageChannel();
      channel.port1.onmessage = () => waiting.shift()?.();
    }
    return new Promise((resolve) => { waiting.push(resolve); channel!.port2.postMessage(null); });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}
