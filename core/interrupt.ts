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
}

const handlers = new Set<InterruptHandler>();

/** Registers `h` until the returned function is called (when the work ends either way). */
export function onInterrupt(h: InterruptHandler): () => void {
  handlers.add(h);
  return () => void handlers.delete(h);
}

/** Runs every registered cleanup (newest first) and returns their statuses. */
export function runInterruptHandlers(): string[] {
  const out: string[] = [];
  for (const h of [...handlers].reverse()) {
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
