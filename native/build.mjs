// Builds the optional native addons (now one: openblas-gemm, the CPU step's matmul
// through the system's OpenBLAS) with npm's own node-gyp. Run by `npm ci` (prepare).
// It never fails the install: without OpenBLAS's headers (Debian: libopenblas-dev),
// or with SCMA_NO_BLAS=1, the CPU step uses tfjs-wasm's XNNPACK matmul instead.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'openblas-gemm');
const say = (line) => process.stderr.write(`openblas-gemm: ${line}\n`);

function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const root = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' }).stdout?.trim();
  const bundled = root && join(root, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  return bundled && existsSync(bundled) ? bundled : undefined;
}

/**
 * Node's headers: npm's nodedir setting (machines without network set it), else the
 * headers installed beside this node binary; none: node-gyp downloads them.
 */
function nodeDir() {
  const set = process.env.npm_config_nodedir || spawnSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8' }).stdout?.trim();
  if (set && set !== 'undefined' && existsSync(join(set, 'include', 'node', 'node_api.h'))) return set;
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

if (process.env.SCMA_NO_BLAS) {
  rmSync(join(dir, 'build'), { recursive: true, force: true });
  say('not built (SCMA_NO_BLAS is set); the CPU step uses XNNPACK (tfjs-wasm)');
} else {
  const gyp = nodeGyp();
  const r = gyp ? spawnSync(process.execPath, [gyp, 'rebuild', ...(nodeDir() ? [`--nodedir=${nodeDir()}`] : [])], { cwd: dir, encoding: 'utf8' }) : undefined;
  if (r?.status === 0) say('built; the CPU step multiplies with OpenBLAS');
  else {
    rmSync(join(dir, 'build'), { recursive: true, force: true });
    const why = !gyp ? "npm's node-gyp was not found" : /cblas\.h|openblas/i.test(`${r?.stdout}${r?.stderr}`) ? 'no OpenBLAS headers (Debian: apt install libopenblas-dev)' : `node-gyp exited ${r?.status}`;
    say(`not built (${why}); the CPU step uses XNNPACK (tfjs-wasm), about 3x slower per matmul`);
  }
}
