import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Repository root (tests run from dist/test/..., sources live at the root). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The real Criteo samples, kept beside the checkout (../shared), never copied in. */
export const CRITEO_DIR = path.resolve(REPO_ROOT, '../shared/data/criteo');
export const KAGGLE_10K = path.join(CRITEO_DIR, 'kaggle-train-head-10k.tsv');
export const KAGGLE_TEST_100 = path.join(CRITEO_DIR, 'kaggle-test-head-100.tsv');
export const TERABYTE_1K = path.join(CRITEO_DIR, 'terabyte-day0-head-1k.tsv');
export const QUIRKS_TRIMMED = path.join(CRITEO_DIR, 'quirks/trimmed-trailing-fields.tsv');
/** The CLI launcher, as a user runs it. */
export const PIPELINE_BIN = path.join(REPO_ROOT, 'bin/pipeline');
