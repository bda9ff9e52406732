/**
 * One train per output: `--out DIR` (checkpoints, the saved model) is locked with
 * DIR/.pipeline.lock and `--metrics FILE` with .FILE.lock beside it (io/lock.ts),
 * before anything there is read, swept or written. Without the lock a second run
 * into the same --out would delete the first one's checkpoint temp files at start,
 * then both would overwrite each other's checkpoint and metrics lines.
 *
 * On SIGINT/SIGTERM (bin/cli.ts) the locks and this process's temp files go; the
 * last checkpoint stays, since it is what --resume continues from.
 */
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../../core/errors.js';
import { onInterrupt } from '../../core/interrupt.js';
import { CHECKPOINT_FILE } from '../../model/checkpoint.js';
import { acquireLock, dirLockFile, fileLockFile, type Lock } from '../../io/lock.js';

export interface TrainOutputLock {
  /** The step of the last checkpoint written by this run (for the interrupt line). */
  checkpointed(step: number): void;
  /** Drops the locks and the interrupt handler; safe to call twice. */
  release(): void;
}

/** --out must be (or become) a directory: one line naming it otherwise. */
function makeOutputDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new PipelineError('ERR_OUTPUT', 'exists and is not a directory; --out takes the directory for checkpoints and the model', { file: dir });
    throw err;
  }
}

/** This process's temp files (io/atomic-file.ts tempNameFor's shape) in `dir`. */
function removeOwnTempFilesSync(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const mine = `.${process.pid}.`;
  for (const n of names) if (n.startsWith('.') && n.endsWith('.tmp') && n.includes(mine)) rmSync(path.join(dir, n), { force: true });
}

/** Takes train's output locks (none when there is neither --out nor --metrics), or throws ERR_LOCKED naming the holder. */
export function lockTrainOutputs(outDir: string | undefined, metricsFile: string | undefined): TrainOutputLock {
  const locks: Lock[] = [];
  let step: number | undefined;
  // A run that fails before writing anything (a bad mapping, an empty input) leaves no
  // --out behind: the directory it made only for its lock goes again (rmdir: if empty).
  const madeDir = outDir !== undefined && !existsSync(outDir);
  const dropLocks = () => {
    for (const l of locks) l.release();
    if (madeDir) {
      try {
        rmdirSync(outDir!);
      } catch {
        // not empty: it holds what the run wrote
      }
    }
  };
  try {
    if (outDir !== undefined) {
      makeOutputDir(outDir);
      locks.push(acquireLock(dirLockFile(outDir), `train --out ${outDir}`, outDir));
    }
    if (metricsFile !== undefined) locks.push(acquireLock(fileLockFile(metricsFile), `train --metrics ${metricsFile}`, metricsFile));
  } catch (err) {
    dropLocks();
    throw err;
  }
  const unregister = locks.length
    ? onInterrupt({
        status: () => {
          if (outDir === undefined) return undefined;
          // The file can be in place a moment before its write returns (the directory's fsync).
          if (step === undefined && !existsSync(path.join(outDir, CHECKPOINT_FILE))) return `no checkpoint written in ${outDir}`;
          return `checkpoint${step === undefined ? '' : ` at step ${step}`} in ${outDir} (continue it with --resume)`;
        },
        cleanup: () => {
          if (outDir !== undefined) {
            removeOwnTempFilesSync(outDir);
            removeOwnTempFilesSync(path.join(outDir, 'model'));
          }
          dropLocks();
        },
      })
    : () => {};
  return {
    checkpointed: (s) => void (step = s),
    release() {
      unregister();
      dropLocks();
    },
  };
}
