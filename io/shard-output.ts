/**
 * Prepares an output directory for the shard sink: a fresh start, a resume of an
 * interrupted run with the same config, or a clear refusal when the directory holds
 * another config's output (unless overwrite). It also sweeps what a killed run can
 * leave behind: temp files, and a shard renamed into place whose manifest update
 * never happened (the rerun rewrites it, identically).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../core/errors.js';
import { configDifferences, emptyManifest, LEGACY_MANIFEST_FILE, MANIFEST_FILE, tryReadManifest, type Manifest, type ManifestConfig } from './manifest.js';

const OUR_SHARD = /^part-\d{5,}\.(parquet|arrow)$/;
const OUR_TMP = /^\.(part-\d{5,}\.(parquet|arrow)|_?manifest\.json)(\.\d+)+\.tmp$/;

export interface OpenedOutput {
  manifest: Manifest;
  /** A manifest was on disk (resume or already complete). */
  existed: boolean;
}

export async function openShardOutput({ dir, config, overwrite = false }: { dir: string; config: ManifestConfig; overwrite?: boolean }): Promise<OpenedOutput> {
  await fsp.mkdir(dir, { recursive: true });
  let existing = await tryReadManifest(dir).catch((err) => {
    if (overwrite) return null; // a corrupt manifest is exactly what --overwrite is for
    throw err;
  });
  if (existing && !overwrite) {
    const diff = configDifferences(existing.config, config);
    if (diff.length) {
      throw new PipelineError(
        'ERR_OUTPUT_EXISTS',
        `holds the output of a different preprocess config (differs in ${diff.join(', ')}); use --overwrite to replace it or choose another --out`,
        { file: dir },
      );
    }
  }
  if (overwrite) existing = null;
  const keep = new Set(existing?.shards.map((s) => s.file) ?? []);
  for (const name of await fsp.readdir(dir)) {
    const stale = OUR_TMP.test(name) || (OUR_SHARD.test(name) && !keep.has(name)) || (overwrite && (name === MANIFEST_FILE || name === LEGACY_MANIFEST_FILE));
    if (stale) await fsp.rm(path.join(dir, name), { force: true });
  }
  return { manifest: existing ?? emptyManifest(config), existed: existing !== null };
}
