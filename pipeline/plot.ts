/**
 * plot(): `train --metrics` JSON-lines files -> one standalone SVG of the training
 * curves (pipeline/plot-svg.ts), one run per file, for side-by-side comparisons
 * such as SCMA against HashNet.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { PipelineError, invalidOption } from '../core/errors.js';
import { renderCurvesSvg, type PlotLayout, type RunCurves } from './plot-svg.js';

export interface PlotOptions {
  /** train --metrics files, one per run. */
  metrics: string[];
  /** Legend names, one per file (default: each file's directory name, or its name when it is in the current directory). */
  labels?: string[];
  title?: string;
}

/** The default legend name: run/metrics.jsonl -> "run"; scma.jsonl -> "scma". */
export function defaultRunName(file: string): string {
  const dir = path.basename(path.dirname(path.resolve(file)));
  const base = path.basename(file).replace(/\.(jsonl|ndjson|json)$/, '');
  return path.dirname(file) === '.' || base !== 'metrics' ? base : dir;
}

/** Reads one metrics file into curves; a line that is not JSON is an error naming file and line. */
export async function readRunCurves(file: string, name: string): Promise<RunCurves> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PipelineError(code === 'ENOENT' ? 'ERR_INPUT_NOT_FOUND' : 'ERR_INPUT', code === 'ENOENT' ? 'no such file' : `cannot read: ${(err as Error).message}`, { file });
  }
  const run: RunCurves = { name, loss: [], valAuc: [], testAuc: [] };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].trim();
    if (!l) continue;
    let o: { type?: string; step?: number; loss?: number; split?: string; auc?: number };
    try {
      o = JSON.parse(l);
    } catch {
      throw new PipelineError('ERR_METRICS', 'not a JSON line (expected the output of train --metrics)', { file, line: i + 1 });
    }
    if (typeof o.step !== 'number') continue;
    if (o.type === 'train' && typeof o.loss === 'number') run.loss.push({ step: o.step, value: o.loss });
    else if (o.type === 'eval' && typeof o.auc === 'number' && Number.isFinite(o.auc)) {
      if (o.split === 'val') run.valAuc.push({ step: o.step, value: o.auc });
      else if (o.split === 'test') run.testAuc.push({ step: o.step, value: o.auc });
    }
  }
  if (run.loss.length + run.valAuc.length + run.testAuc.length === 0) {
    throw new PipelineError('ERR_METRICS', 'holds no train or eval lines (expected the output of train --metrics)', { file });
  }
  return run;
}

export async function plot(opts: PlotOptions): Promise<{ svg: string; layout: PlotLayout; runs: RunCurves[] }> {
  const { metrics, labels, title } = opts;
  if (!metrics.length) throw invalidOption('metrics', 'needs at least one train --metrics file', metrics);
  if (labels && labels.length && labels.length !== metrics.length) {
    throw invalidOption('label', `needs one name per --metrics file (${metrics.length})`, labels);
  }
  const runs = await Promise.all(metrics.map((f, i) => readRunCurves(f, labels?.[i] ?? defaultRunName(f))));
  return { ...renderCurvesSvg(runs, { title }), runs };
}
