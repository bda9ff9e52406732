/** The top-level command line: usage errors, --version, help. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runPipeline } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';

t.test('no command is a usage error: exit 2, usage on stderr, nothing on stdout', async (t) => {
  const r = await runPipeline([]);
  t.equal(r.code, 2);
  t.equal(r.stdout, '');
  t.match(r.stderr, /^usage: pipeline <command>/);
  t.match(r.stderr, /\n {2}train {7}/);
});

t.test('--help is not an error: exit 0, usage on stdout', async (t) => {
  const r = await runPipeline(['--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^usage: pipeline <command>/);
});

t.test('--version prints the package version', async (t) => {
  const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  for (const flag of ['--version', '-V']) {
    const r = await runPipeline([flag]);
    t.equal(r.code, 0, flag);
    t.equal(r.stdout, `scma-pipeline ${version}\n`, flag);
  }
});

t.test('an unexpected positional argument is a usage error, not a stack trace', async (t) => {
  const r = await runPipeline(['stats', '--input', 'a', 'b']);
  t.equal(r.code, 2);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  t.match(r.stderr, /^pipeline stats: Unexpected argument 'b'/);
});
