/**
 * Prepares an output directory for the shard sink: a fresh start, a resume of an
 * interrupted run with the same config, or a clear refusal when the directory holds
 * another config's output (unless overwrite). It also sweeps what a killed run can
 * leave behind: temp files, and a shard renamed into place whose manifest update
 * never happened (the rerun rewrites it, identically).
 */
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../core/errors.js';
import { fingerprintChange } from './fingerprint.js';
import { configDifferences, emptyManifest, LEGACY_MANIFEST_FILE, MANIFEST_FILE, tryReadManifest, writeManifest, type Manifest, type ManifestConfig } from './manifest.js';

const OUR_SHARD = /^part-\d{5,}\.(parquet|arrow)$/;
const OUR_TMP = /^\.(part-\d{5,}\.(parquet|arrow)|_?manifest\.json)(\.\d+)+\.tmp$/;

export interface OpenedOutput {
  manifest: Manifest;
  /** A manifest was on disk (resume or already complete). */
  existed: boolean;
}

/**
 * Removes this process's temp files in `dir` (synchronously: an interrupted run
 * calls it from its signal handler just before exiting).
 */
export function removeOwnTempFilesSync(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  const mine = `.${process.pid}.`;
  for (const name of names) if (OUR_TMP.test(name) && name.includes(mine)) fs.rmSync(path.join(dir, name), { force: true });
}

export async function openShardOutput({ dir, config, overwrite = false }: { dir: string; config: ManifestConfig; overwrite?: boolean }): Promise<OpenedOutput> {
  await fsp.mkdir(dir, { recursive: true });
  // The caller holds dir's lock (io/lock.ts): no other run writes here, so temp files
  // of our shape are leftovers of a dead run and may go.
  let existing = await tryReadManifest(dir).catch((err) => {
    if (overwrite) return null; // a corrupt manifest is exactly what --overwrite is for
    throw err;
  });
  if (existing && !overwrite) {
    checkInputsUnchanged(existing.config, config, dir);
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
  const names = await fsp.readdir(dir);
  const listed = new Set(existing?.shards.map((s) => s.file) ?? []);
  // Shards a run of this output renamed into place and recorded as pending before the
  // manifest listed them (a kill in between, or a rollback): ours to remove.
  const pending = new Set(existing?.pending ?? []);
  if (!overwrite) {
    const foreign = names.filter((n) => OUR_SHARD.test(n) && !listed.has(n) && !pending.has(n));
    if (foreign.length) {
      throw new PipelineError(
        'ERR_OUTPUT_EXISTS',
        `holds shard files this output's manifest does not own (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}); preprocess never deletes files it did not write: use --overwrite to replace them or choose another --out`,
        { file: dir },
      );
    }
  }
  for (const name of names) {
    const stale = OUR_TMP.test(name) || (OUR_SHARD.test(name) && !listed.has(name)) || (overwrite && (name === MANIFEST_FILE || name === LEGACY_MANIFEST_FILE));
    if (stale) await fsp.rm(path.join(dir, name), { force: true });
  }
  if (existing) {
    await verifyListedShards(dir, existing);
    if (existing.pending?.length) {
      existing.pending = [];
      await writeManifest(dir, existing);
    }
  }
  return { manifest: existing ?? emptyManifest(config), existed: existing !== null };
}

/** The same input files as the run that wrote `dir`, unchanged; else ERR_INPUT_CHANGED naming the file. */
function checkInputsUnchanged(was: ManifestConfig, now: ManifestConfig, dir: string): void {
  if (JSON.stringify(was.inputs) !== JSON.stringify(now.inputs)) return; // other inputs: the config check says so
  for (let i = 0; i < now.inputs.length; i++) {
    const a = was.inputFingerprints?.[i];
    const b = now.inputFingerprints?.[i];
    if (!a || !b) continue;
    const change = fingerprintChange(a, b);
    if (change) {
      throw new PipelineError(
        'ERR_INPUT_CHANGED',
        `changed since the run that wrote ${dir} (${change}); its shards no longer match it: rerun with --overwrite to start over`,
        { file: now.inputs[i] },
      );
    }
  }
}

/**
 * A resume trusts the listed shards: check that each is there with its recorded size
 * (the checksums are checked by readers). A missing one means the directory was
 * damaged outside a run: say so instead of completing a manifest with holes.
 */
async function verifyListedShards(dir: string, m: Manifest): Promise<void> {
  for (const s of m.shards) {
    const file = path.join(dir, s.file);
    let size: number;
    try {
      size = (await fsp.stat(file)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      throw new PipelineError('ERR_RESUME', 'the manifest lists this shard but it is missing; the output was damaged: rerun with --overwrite', { file: dir, shard: s.file });
    }
    if (size !== s.bytes) {
      throw new PipelineError('ERR_RESUME', `the shard has ${size} bytes, the manifest says ${s.bytes}; the output was damaged: rerun with --overwrite`, { file: dir, shard: s.file });
    }
  }
}
