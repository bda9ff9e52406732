/** A bounded read-ahead over an async iterable: up to `depth` items are being prepared while the consumer works. */
export async function* prefetch<T>(source: AsyncIterable<T>, depth: number): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const queue: Promise<IteratorResult<T>>[] = [];
  let done = false;
  try {
    for (;;) {
      while (!done && queue.length < depth) {
        const p = it.next();
        p.catch(() => {}); // surfaced when its turn comes
        queue.push(p);
      }
      const r = await queue.shift()!;
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (!done) await it.return?.(undefined);
  }
}
