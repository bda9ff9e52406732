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

export function requireSameSettings(ck: TrainCheckpoint | null, fp: string, outDir: string | undefined): void {
  if (ck && ck.fingerprint !== fp) {
    const diff = settingDifferences(ck.fingerprint, fp);
    const which = diff.length ? `differs in ${diff.join('; ')}` : 'was written with other settings (input, architecture, embedding, batch size, split, shuffle or seed)';
    throw new PipelineError('ERR_RESUME_MISMATCH', `the checkpoint ${which}: resume with the same settings, or choose another --out`, { file: path.join(outDir!, CHECKPOINT_FILE) });
  }
}
