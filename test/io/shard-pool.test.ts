import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ShardEncoderPool } from '../../io/shard-pool.js';
import { PipelineError } from '../../core/errors.js';
import { emptyFeatureBatch } from '../../core/schema.js';
import type { ShardFormat } from '../../io/manifest.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shard-pool-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

// The same failures on the calling thread (size 0) and on a worker (size 1): what
// crosses the thread boundary must be the error that was thrown, code and context.
for (const size of [0, 1]) {
  const where = size === 0 ? 'on this thread' : 'on a worker';

  t.test(`a PipelineError thrown while encoding arrives with its code and context (${where})`, async (t) => {
    const pool = new ShardEncoderPool({ size });
    t.teardown(() => pool.close());
    const err = await pool.encode(emptyFeatureBatch(10), 'csv' as ShardFormat, path.join(tmp, `.x-${size}.tmp`)).catch((e: unknown) => e);
    t.ok(err instanceof PipelineError, 'a PipelineError, not a plain Error');
    t.match(err, { code: 'ERR_INVALID_OPTION', context: { option: 'format' }, message: /Invalid option format: must be 'parquet' or 'arrow', got "csv"/ });
  });

  t.test(`a system error while writing becomes ERR_SHARD_WRITE naming the file, its errno code kept (${where})`, async (t) => {
    const pool = new ShardEncoderPool({ size });
    t.teardown(() => pool.close());
    const file = path.join(tmp, 'no-such-dir', `.part-00000.arrow.${size}.tmp`);
    const err = await pool.encode(emptyFeatureBatch(10), 'arrow', file).catch((e: unknown) => e);
    t.ok(err instanceof PipelineError);
    t.match(err, { code: 'ERR_SHARD_WRITE', context: { file, cause: 'ENOENT' }, message: /ENOENT/ });
  });
}
