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

t.test('no GPU device node on Linux: webgpu is skipped without loading Dawn (whose probe prints a Vulkan warning)', async (t) => {
  const { gpuDeviceAbsent } = await import('../../model/backend.js');
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dev = fs.mkdtempSync(path.join(os.tmpdir(), 'dev-'));
  t.teardown(() => fs.rmSync(dev, { recursive: true, force: true }));
  t.equal(gpuDeviceAbsent('linux', dev), true, 'empty /dev: no GPU');
  t.equal(gpuDeviceAbsent('darwin', dev), false, 'other platforms are probed');
  fs.writeFileSync(path.join(dev, 'nvidia0'), '');
  t.equal(gpuDeviceAbsent('linux', dev), false, '/dev/nvidia0');
  fs.rmSync(path.join(dev, 'nvidia0'));
  fs.mkdirSync(path.join(dev, 'dri'));
  fs.writeFileSync(path.join(dev, 'dri', 'renderD128'), '');
  t.equal(gpuDeviceAbsent('linux', dev), false, '/dev/dri/renderD128');
});

t.test('a train-like backend probe prints no Dawn warning on a machine without a GPU', async (t) => {
  const { gpuDeviceAbsent } = await import('../../model/backend.js');
  if (!gpuDeviceAbsent()) {
    t.pass('this machine has a GPU device: nothing to check');
    return;
  }
  const { spawnSync } = await import('node:child_process');
  const url = new URL('../../model/backend.js', import.meta.url).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const b = await import(${JSON.stringify(url)}); await b.selectBackend('webgpu', (l) => process.stderr.write(l + '\\n'));`], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.notMatch(r.stderr, /Vulkan|XDG_RUNTIME_DIR|dawn/i);
  t.match(r.stderr, /^backend: webgpu unavailable \(no GPU device/);
});
