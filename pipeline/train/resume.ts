/**
 * --out and --resume: an existing checkpoint is never clobbered, and is resumed only
 * with the settings it was written with (the fingerprint).
 */
import path from 'node:path';
import { PipelineError } from '../../core/errors.js';
import { cleanTempFiles, loadCheckpoint, CHECKPOINT_FILE, type TrainCheckpoint } from '../../model/checkpoint.js';

/**
 * The checkpoint to continue from, if any. Checked before the input's count and
 * mapping passes, so a forgotten --resume fails at once rather than after them.
 */
export async function findCheckpoint(outDir: string | undefined, resume: boolean, log: (line: string) => void): Promise<TrainCheckpoint | null> {
  if (!outDir) return null;
  await cleanTempFiles(outDir); // a killed writer's leftovers are never read
  const existing = await loadCheckpoint(outDir);
  if (existing && !resume) throw new PipelineError('ERR_OUT_EXISTS', `holds a checkpoint (step ${existing.step}): pass --resume to continue it, or choose another --out`, { file: outDir });
  if (resume && !existing) log(`train: --resume: no checkpoint in ${outDir} yet, starting from step 0`);
  return existing;
}

/** Everything that must match for a checkpoint to be resumed. */
export function fingerprint(o: Record<string, unknown>): string {
  return JSON.stringify(o);
}

/** The settings that differ, as `name: checkpoint value -> this run's value` (values cut to 80 characters). */
export function settingDifferences(before: string, now: string): string[] {
  let a: Record<string, unknown>;
  let b: Record<string, unknown>;
  try {
    a = JSON.parse(before);
    b = JSON.parse(now);
  } catch {
    return []; // a fingerprint from a version that did not write JSON
  }
  const show = (v: unknown) => {
    const s = JSON.stringify(v) ?? 'none';
    return s.length > 80 ? s.slice(0, 77) + '...' : s;
  };
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).map((k) => `${k}: ${show(a[k])} -> ${show(b[k])}`);
}

/**
 * Refuses a checkpoint written with other settings. `files` names the file behind a
 * content-keyed setting (input, mapping), so that a different file at the same path
 * is reported by its name.
 */
export function requireSameSettings(ck: TrainCheckpoint | null, fp: string, outDir: string | undefined, files: Record<string, string> = {}): void {
  if (!ck || ck.fingerprint === fp) return;
  const ckFile = path.join(outDir!, CHECKPOINT_FILE);
  const diff = settingDifferences(ck.fingerprint, fp);
  const file = changedKeys(ck.fingerprint, fp).find((k) => files[k] !== undefined);
  if (file !== undefined) {
    // The same path, other contents (or another path): name the file, not only the checkpoint.
    const others = diff.length > 1 ? `; the checkpoint also differs in ${diff.filter((d) => !d.startsWith(`${file}:`)).join('; ')}` : '';
    throw new PipelineError('ERR_RESUME_MISMATCH', `is not the ${file} the checkpoint ${ckFile} was trained with: its contents differ (${diff.find((d) => d.startsWith(`${file}:`))})${others}: resume with the same ${file}, or choose another --out`, { file: files[file] });
  }
  const which = diff.length ? `differs in ${diff.join('; ')}` : 'was written with other settings (input, architecture, embedding, batch size, split, shuffle or seed)';
  throw new PipelineError('ERR_RESUME_MISMATCH', `the checkpoint ${which}: resume with the same settings, or choose another --out`, { file: ckFile });
}

function changedKeys(before: string, now: string): string[] {
  try {
    const a = JSON.parse(before) as Record<string, unknown>;
    const b = JSON.parse(now) as Record<string, unknown>;
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  } catch {
    return [];
  }
}
