import t from 'tap';
import { Worker } from 'node:worker_threads';
import { PipelineError, errorForTransfer, errorFromWorker, type WorkerError } from '../../core/errors.js';

/** Runs `body` (module code that may use PipelineError and errorForTransfer) in a worker thread and returns what it posts. */
function inWorker(body: string): Promise<WorkerError> {
  const errorsUrl = new URL('../../core/errors.js', import.meta.url).href;
  const src = `import { parentPort } from 'node:worker_threads';
    const { PipelineError, errorForTransfer } = await import(${JSON.stringify(errorsUrl)});
    try { ${body} } catch (err) { parentPort.postMessage(errorForTransfer(err)); }`;
  const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(src)}`));
  return new Promise((resolve, reject) => {
    w.once('message', (m: WorkerError) => {
      void w.terminate();
      resolve(m);
    });
    w.once('error', reject);
  });
}

t.test('a PipelineError thrown in a worker arrives as a PipelineError: same code, context and message', async (t) => {
  const posted = await inWorker(`throw new PipelineError('ERR_BAD_ROW', 'non-numeric integer "x7" (bad-int)', { file: 'day_0.tsv', line: 8501, field: 'i1', reason: 'bad-int' });`);
  const err = errorFromWorker(posted);
  t.ok(err instanceof PipelineError, 'rebuilt as a PipelineError');
  const pe = err as PipelineError;
  t.equal(pe.code, 'ERR_BAD_ROW');
  t.same(pe.context, { file: 'day_0.tsv', line: 8501, field: 'i1', reason: 'bad-int' });
  t.equal(pe.message, 'day_0.tsv, line 8501, field i1: non-numeric integer "x7" (bad-int)', 'the location is not repeated');
  t.match(pe.stack, /in the worker thread/, "the worker's stack is kept");
});

t.test('a plain error from a worker keeps its message and system code', async (t) => {
  const posted = await inWorker(`const fs = await import('node:fs'); fs.readFileSync('/no/such/file/anywhere');`);
  const err = errorFromWorker(posted) as Error & { code?: string };
  t.notOk(err instanceof PipelineError);
  t.equal(err.code, 'ENOENT');
  t.match(err.message, /no such file/);
});

t.test('what structured clone does to a PipelineError without errorForTransfer (why it exists)', async (t) => {
  const cloned = structuredClone(new PipelineError('ERR_SCHEMA', 'missing column c3', { field: 'c3' })) as Error & { code?: unknown };
  t.notOk(cloned instanceof PipelineError);
  t.equal(cloned.code, undefined, 'the clone drops the code');
});

t.test('a context the clone cannot carry is sent as JSON rather than failing the post', async (t) => {
  const w = errorForTransfer(new PipelineError('ERR_INTERNAL', 'x', { file: 'f', callback: () => 1 }));
  t.same(w.context, { file: 'f' });
  t.doesNotThrow(() => structuredClone(w));
});
