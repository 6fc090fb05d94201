/**
 * Lets the event loop run between decode steps, so that a click, a worker message or an abort
 * arriving during generation is handled before the next step (awaiting a tensor read alone may
 * resolve as a microtask, which runs before any event).
 */
interface SchedulerLike { yield?: () => Promise<void> }

export function yieldToEventLoop(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: SchedulerLike }).scheduler;
  if (typeof scheduler?.yield === 'function') return scheduler.yield();
  const immediate = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate;
  if (typeof immediate === 'function') return new Promise((resolve) => { immediate(resolve); });
  if (typeof MessageChannel === 'function') {
    // Not clamped to 4 ms as nested setTimeout(0) is.
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => { channel.port1.close(); resolve(); };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}
