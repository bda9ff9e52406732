/**
 * What a workflow leaves to do when the user interrupts it (SIGINT, SIGTERM). The CLI
 * owns the signal (bin/cli.ts); workflows register what only they know: how far
 * they got (for the one line the user sees) and their cleanup (temp files, locks).
 * Cleanups are synchronous: they run in the signal handler just before exit.
 */
export interface InterruptHandler {
  /** How far the work got, e.g. "1200 rows committed in 3 shards"; undefined: nothing to say. */
  status(): string | undefined;
  /** Removes what a rerun must not find half-written. Must not throw. */
  cleanup(): void;
  /**
   * Stops writers on other threads (shard encoders) before any cleanup runs, so no temp
   * file appears after it: resolves once they have nothing in flight.
   */
  stop?(): Promise<void>;
}

const handlers = new Set<InterruptHandler>();

/** Registers `h` until the returned function is called (when the work ends either way). */
export function onInterrupt(h: InterruptHandler): () => void {
  handlers.add(h);
  return () => void handlers.delete(h);
}

/** How long an interrupted run waits for its writers to stop before cleaning up anyway. */
const STOP_WAIT_MS = 5000;

/** Stops every writer, then runs every registered cleanup (newest first) and returns their statuses. */
export async function runInterruptHandlers(): Promise<string[]> {
  const list = [...handlers].reverse();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(list.map((h) => h.stop?.())),
    new Promise((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS))),
  ]);
  clearTimeout(timer);
  const out: string[] = [];
  for (const h of list) {
    try {
      const s = h.status();
      if (s) out.push(s);
      h.cleanup();
    } catch {
      // An interrupted run reports what it can; one failing cleanup must not stop the others.
    }
  }
  handlers.clear();
  return out;
}
