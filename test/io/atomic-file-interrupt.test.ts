// Its own file (and process): an interrupt stops atomic writes for good, as the CLI exits right after.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../../io/atomic-file.js';
import { runInterruptHandlers } from '../../core/interrupt.js';

t.test('an interrupt waits for a write in flight, then starts none: no temp file is left after the cleanups', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-interrupt-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, '_manifest.json');
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  async function* slow() {
    yield Buffer.from('{"rows":');
    await gate; // the signal arrives while the temp file is half written
    yield Buffer.from('42}\n');
  }
  const first = writeFileAtomic(file, slow());
  // Wait until the temp file exists: the write is really in flight.
  while (!fs.readdirSync(dir).some((n) => n.endsWith('.tmp'))) await new Promise((r) => setTimeout(r, 5));

  let handlersDone = false;
  const interrupted = runInterruptHandlers().then(() => (handlersDone = true));
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(handlersDone, 'the interrupt waits for the write in flight');
  release();
  await interrupted;
  t.equal(await first, 12, 'the write begun before the signal completes');
  t.equal(fs.readFileSync(file, 'utf8'), '{"rows":42}\n', 'and leaves the whole file');
  t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'no temp file');

  let settled = false;
  void writeFileAtomic(path.join(dir, 'later.json'), 'x').then(() => (settled = true), () => (settled = true));
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(settled, 'a write asked for after the signal never starts');
  t.same(fs.readdirSync(dir).sort(), ['_manifest.json'], 'and writes nothing');
});
