import t from 'tap';
import { initialMemoryChunks } from '../../../model/fused/embedding.js';
import { initialMemory } from '../../../model/embedding/memory-init.js';
import { Locator } from '../../../model/embedding/locations.js';
import { tinyConfig } from '../fixtures.js';

t.test('the chunked initial memory is initialMemory, value for value', async (t) => {
  for (const kind of ['full', 'hashnet', 'scma'] as const) {
    const cfg = tinyConfig(kind);
    const locator = new Locator(cfg.embedding, cfg.embeddingDim);
    const whole = initialMemory(cfg.embedding, locator, cfg.embeddingDim, 7);
    for (const chunkFloats of [1, 5, 64, 1 << 20]) {
      const got = new Float32Array(whole.length);
      let calls = 0;
      initialMemoryChunks(cfg.embedding, locator, cfg.embeddingDim, 7, (off, c) => {
        got.set(c, off);
        calls++;
      }, chunkFloats);
      t.same(got, whole, `${kind}, chunks of ${chunkFloats}`);
      t.equal(calls, Math.ceil(whole.length / Math.min(chunkFloats, whole.length)));
    }
  }
});
