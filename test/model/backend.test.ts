import t from 'tap';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../model/backend.js';

t.test('selectBackend rejects unknown names', async (t) => {
  await t.rejects(selectBackend('tpu', () => {}), { code: 'ERR_INVALID_OPTION', message: /Invalid option backend: must be one of auto, tensorflow, webgpu, wasm, cpu, got "tpu"/ });
});

t.test('a requested backend that is missing falls back with one clear line', async (t) => {
  // No tfjs-node here (optional dependency) and no GPU adapter on CI machines.
  const lines: string[] = [];
  const got = await selectBackend('tensorflow', (l) => lines.push(l));
  t.not(got, 'tensorflow');
  t.equal(tf.getBackend(), got);
  t.equal(lines.length, 1);
  t.match(lines[0], /^backend: tensorflow unavailable \(@tensorflow\/tfjs-node-gpu \/ tfjs-node not installed \(optional dependency\)\), falling back to (webgpu|wasm|cpu)( \(also unavailable: .*\))?$/);
});

t.test('selecting the cpu backend works and computes gradients', async (t) => {
  const lines: string[] = [];
  t.equal(await selectBackend('cpu', (l) => lines.push(l)), 'cpu');
  t.equal(tf.getBackend(), 'cpu');
  const g = tf.grad((x: tf.Tensor) => tf.sum(tf.gather(x, tf.tensor1d([0, 0, 2], 'int32'))));
  t.same(Array.from(g(tf.tensor1d([1, 2, 3])).dataSync()), [2, 0, 1]);
});

t.test('auto picks the best available backend and says so', async (t) => {
  const lines: string[] = [];
  const got = await selectBackend('auto', (l) => lines.push(l));
  t.ok(['webgpu', 'wasm', 'cpu'].includes(got));
  t.equal(lines.length, 1);
  t.match(lines[0], new RegExp(`^backend: ${got} \\(auto; unavailable: tensorflow: `));
});
