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

export function requireSameSettings(ck: TrainCheckpoint | null, fp: string, outDir: string | undefined): void {
  if (ck && ck.fingerprint !== fp) {
    throw new PipelineError('ERR_RESUME_MISMATCH', 'the checkpoint was written with other settings (input, architecture, embedding, batch size, split, shuffle or seed): resume with the same ones', { file: path.join(outDir!, CHECKPOINT_FILE) });
  }
}
