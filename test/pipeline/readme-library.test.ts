/**
 * The README's library example, verbatim: it compiles as strict TypeScript against
 * the built package (its .d.ts files, resolved through package.json "exports" as a
 * user's project resolves them) and runs on two gzipped day files.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { REPO_ROOT } from '../helpers/paths.js';
import { synthRows } from '../../input/synth.js';
import { readArrowStream } from '../../io/read-shards.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-lib-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

function readmeExample(): string {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const m = /## As a library\n[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README has no ```ts block under "## As a library"');
  return m[1];
}

/**
 * Runs node as a user does: tap's process-info hook adds its loaders to every
 * child's NODE_OPTIONS, and they break tsc (require of an ES module in a cycle).
 */
function plainNode(args: string[], opts: { cwd: string; maxBuffer?: number }) {
  return spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, ...args], { ...opts, maxBuffer: opts.maxBuffer ?? 64 << 20 });
}

t.test('the README library example compiles against the package types and runs as written', async (t) => {
  const src = readmeExample();
  t.match(src, /from 'scma-pipeline'/, 'imports the package by its name');
  // A user's project: the package (and @types/node) installed under node_modules.
  fs.mkdirSync(path.join(dir, 'node_modules/@types'), { recursive: true });
  fs.symlinkSync(REPO_ROOT, path.join(dir, 'node_modules/scma-pipeline'), 'dir');
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules/@types/node'), path.join(dir, 'node_modules/@types/node'), 'dir');
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  // strict and skipLibCheck, as `tsc --init` writes them: tfjs-core's own .d.ts files
  // do not check without it (they name an undeclared 'Long', and @webgpu/types
  // clashes with lib.dom), whatever our declarations are.
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, outDir: 'out', types: ['node'] }, files: ['example.ts'] }),
  );
  fs.writeFileSync(path.join(dir, 'example.ts'), src);
  const tsc = plainNode([path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir });
  t.equal(tsc.status, 0, `tsc: ${tsc.stdout}${tsc.stderr}`);

  // The data it names: two gzipped day files in the working directory.
  const lines = (n: number, seed: number) => [...synthRows({ rows: n, seed })].map((r) => r.line).join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'day_0.gz'), zlib.gzipSync(lines(300, 1)));
  fs.writeFileSync(path.join(dir, 'day_1.gz'), zlib.gzipSync(lines(200, 2)));
  const run = plainNode([path.join(dir, 'out/example.js')], { cwd: dir });
  t.equal(run.status, 0, run.stderr.toString());
  let rows = 0;
  for await (const b of readArrowStream(Readable.from([new Uint8Array(run.stdout)]))) rows += b.rows;
  t.equal(rows, 500, 'every row of both files on stdout as Arrow IPC');
});
