/**
 * Test inputs the project generates itself (input/synth.ts), so that the suite
 * passes in a fresh clone with nothing beside it. They stand in for the real
 * Criteo samples in ../shared (paths.ts): same shapes (10k labeled rows, 100
 * unlabeled rows, a 1k-row second "day", a file with trimmed trailing fields and
 * no final newline), with negative, empty and large values.
 *
 * Files are written once per machine into os.tmpdir(), named by a version tag,
 * through a temp file and a rename, so parallel test processes never see half a file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { synthBatches } from '../../input/synth.js';
import { CRITEO_DIR } from './paths.js';

/** Bump when the generated content changes. */
const VERSION = 'v1';
const DIR = path.join(os.tmpdir(), `scma-pipeline-test-samples-${VERSION}`);

function synthText(rows: number, seed: number): string {
  let s = '';
  for (const b of synthBatches({ rows, seed })) s += b.text.toString('latin1');
  return s;
}

function ensure(name: string, make: () => string): string {
  const file = path.join(DIR, name);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(DIR, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, make(), 'latin1');
  fs.renameSync(tmp, file);
  return file;
}

/** 10,000 labeled rows (seed 1): stands in for kaggle-train-head-10k.tsv. */
export const SAMPLE_10K = ensure('train-10k.tsv', () => synthText(10_000, 1));
/** 100 unlabeled rows (the label column removed): stands in for kaggle-test-head-100.tsv. */
export const SAMPLE_TEST_100 = ensure('test-100.tsv', () =>
  synthText(100, 2)
    .split('\n')
    .map((l) => l.slice(l.indexOf('\t') + 1))
    .join('\n'),
);
/** 1,000 labeled rows of another seed: stands in for terabyte-day0-head-1k.tsv. */
export const SAMPLE_1K = ensure('day-1k.tsv', () => synthText(1000, 3));
/**
 * 1,000 rows whose trailing empty fields are dropped (37- and 38-field rows occur,
 * as in ../shared/data/criteo/quirks) and no final newline.
 */
export const SAMPLE_TRIMMED = ensure('trimmed-1k.tsv', () =>
  synthText(1000, 4)
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.replace(/\t+$/, ''))
    .join('\n'),
);

/**
 * The 10k-row input of the tests that check a model learns to an absolute AUC: the
 * real Kaggle sample when it is there (the thresholds were set on it), else the
 * generated one, where those tests skip only the threshold (train-synth.test.ts
 * checks learning on generated data against its oracle AUC).
 */
export function learningInput(): { file: string; threshold: boolean } {
  return REAL_DATA_SKIP ? { file: SAMPLE_10K, threshold: false } : { file: path.join(CRITEO_DIR, 'kaggle-train-head-10k.tsv'), threshold: true };
}

/**
 * `false` when the real Criteo samples are beside the checkout, else the reason
 * to skip, as tap's `skip` option wants: one line saying what and why.
 */
export const REAL_DATA_SKIP: false | string = fs.existsSync(path.join(CRITEO_DIR, 'kaggle-train-head-10k.tsv'))
  ? false
  : `real Criteo samples not present (${CRITEO_DIR}); generated samples cover the same behaviour`;
