/**
 * bench/movement: how far the embeddings move from their initial values during
 * training, per frequency band of values, on the latent synthetic mode (issue 11).
 *
 *   node dist/bench/movement.js [--rows 200000] [--epochs 1] [--batch 256] [--d 8]
 *        [--bottom 13-32-8] [--top 64-1] [--lr 0.05] [--optimizer adagrad]
 *        [--kinds full,hashnet,scma] [--compression 1/16] [--seed 1] [--backend wasm]
 *        [--export DIR] [--out bench/results/movement.jsonl]
 *   node dist/bench/movement.js --report ours.jsonl,torch.jsonl     # the markdown table
 *
 * Trains each kind exactly as bench/quality does (bench/quality-run.ts: same model,
 * rows, order and steps), saves the embedding memory before the first and after the
 * last step, and prints one JSON line per (kind, band) plus one per run (AUC, whole-
 * memory RMS). With --export DIR it also writes what bench/torch_dlrm_movement.py
 * needs to train a PyTorch DLRM with full tables on the same rows: the featurized
 * rows as vocabulary row indices, each epoch's row order, our full model's initial
 * dense and embedding weights, and our full tables after training (raw little-endian
 * arrays described by DIR/meta.json).
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NUM_CAT, NUM_DENSE, type FeatureBatch } from '../core/schema.js';
import type { Dlrm, ModelState, Vocabulary } from '../model/types.js';
import { synthDataset } from './quality-data.js';
import { PreparedData, embeddingSpec, epochOrder, runOne, type QualityKind, type RunConfig } from './quality-run.js';
import { BAND_EDGES, locator, movementStats, valueList } from './movement-stats.js';

function parseFraction(s: string): number {
  const m = /^1\/(\d+)$/.exec(s.trim());
  const v = m ? 1 / Number(m[1]) : Number(s);
  if (!(v > 0 && v <= 1)) throw new Error(`bad compression ${s}: give 1/N or a number in (0, 1]`);
  return v;
}

function sizes(s: string): number[] {
  return s.split('-').map((x) => {
    const n = Number(x);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`bad layer size ${x} in ${s}`);
    return n;
  });
}

export interface MovementOptions {
  rows: number;
  kinds: QualityKind[];
  compression: number;
  config: Omit<RunConfig, 'kind' | 'compression'>;
  exportDir: string | null;
  out: string | null;
  /** JSON lines also to stdout (the command line; tests keep stdout for TAP). */
  print: boolean;
  log: (line: string) => void;
}

export function parseMovementArgs(argv: string[]): MovementOptions {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string', default: '200000' },
      epochs: { type: 'string', default: '1' },
      batch: { type: 'string', default: '256' },
      d: { type: 'string', default: '8' },
      bottom: { type: 'string' },
      top: { type: 'string', default: '64-1' },
      lr: { type: 'string', default: '0.05' },
      optimizer: { type: 'string', default: 'adagrad' },
      kinds: { type: 'string', default: 'full,hashnet,scma' },
      compression: { type: 'string', default: '1/16' },
      seed: { type: 'string', default: '1' },
      'num-hash': { type: 'string', default: '2' },
      sample: { type: 'string', default: '125000' },
      init: { type: 'string', default: 'max-ln' },
      backend: { type: 'string', default: 'auto' },
      export: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const d = Number(a.d);
  const optimizer = a.optimizer as 'sgd' | 'adagrad';
  if (optimizer !== 'sgd' && optimizer !== 'adagrad') throw new Error('--optimizer must be sgd or adagrad');
  const init = a.init as 'max-ln' | 'm-over-d';
  if (init !== 'max-ln' && init !== 'm-over-d') throw new Error('--init must be max-ln or m-over-d');
  const kinds = a.kinds!.split(',') as QualityKind[];
  for (const k of kinds) if (!['full', 'hashnet', 'scma', 'robe'].includes(k)) throw new Error(`unknown kind ${k}`);
  return {
    rows: Number(a.rows),
    kinds,
    compression: parseFraction(a.compression!),
    config: {
      seed: Number(a.seed),
      shape: { d, bottom: a.bottom ? sizes(a.bottom) : [13, 32, d], top: sizes(a.top!) },
      batchSize: Number(a.batch),
      learningRate: Number(a.lr),
      optimizer,
      epochs: Number(a.epochs),
      numHash: Number(a['num-hash']),
      sample: Number(a.sample),
      backend: a.backend!,
      init,
    },
    exportDir: a.export ?? null,
    out: a.out ?? null,
    print: true,
    log: (line) => process.stderr.write(line + '\n'),
  };
}

function memoryOf(s: ModelState): Float32Array {
  const m = s.embedding.find((x) => x.name === 'embedding.memory');
  if (!m) throw new Error('model state has no embedding.memory');
  return m.values;
}

/** Per-feature vocabulary row of every (row, feature), row-major [rows x 26] (0 = a value the tables lack). */
function rowIndices(b: FeatureBatch, vocab: Vocabulary): Int32Array {
  const out = new Int32Array(b.rows * NUM_CAT);
  for (let r = 0; r < b.rows; r++) for (let f = 0; f < NUM_CAT; f++) out[r * NUM_CAT + f] = vocab.index(f, b.cats[f][r]);
  return out;
}

function rowMajorDense(b: FeatureBatch): Float32Array {
  const out = new Float32Array(b.rows * NUM_DENSE);
  for (let r = 0; r < b.rows; r++) for (let k = 0; k < NUM_DENSE; k++) out[r * NUM_DENSE + k] = b.dense[k][r];
  return out;
}

function writeArray(dir: string, name: string, a: Float32Array | Int32Array | Uint32Array): string {
  writeFileSync(path.join(dir, name), new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return name;
}

/** What bench/torch_dlrm_movement.py reads: rows, orders, our initial weights and our final tables. */
function exportForTorch(dir: string, p: PreparedData, o: MovementOptions, vocab: Vocabulary, init: ModelState, final: ModelState, ours: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  const { train, test } = p.data;
  const c = o.config;
  const orders: string[] = [];
  for (let e = 0; e < c.epochs; e++) orders.push(writeArray(dir, `order-${e}.u32`, epochOrder(train.rows, c.seed, e)));
  const meta = {
    rows: train.rows,
    testRows: test.rows,
    d: c.shape.d,
    bottom: c.shape.bottom,
    top: c.shape.top,
    batch: c.batchSize,
    lr: c.learningRate,
    optimizer: c.optimizer,
    epochs: c.epochs,
    seed: c.seed,
    tableRows: Array.from({ length: NUM_CAT }, (_, f) => vocab.size(f)),
    bandEdges: BAND_EDGES,
    files: {
      trainDense: writeArray(dir, 'train-dense.f32', rowMajorDense(train)),
      trainIdx: writeArray(dir, 'train-idx.i32', rowIndices(train, vocab)),
      trainLabel: writeArray(dir, 'train-label.f32', Float32Array.from(train.label!)),
      testDense: writeArray(dir, 'test-dense.f32', rowMajorDense(test)),
      testIdx: writeArray(dir, 'test-idx.i32', rowIndices(test, vocab)),
      testLabel: writeArray(dir, 'test-label.f32', Float32Array.from(test.label!)),
      orders,
      embeddingInit: writeArray(dir, 'embedding-init.f32', memoryOf(init)),
      embeddingOursFinal: writeArray(dir, 'embedding-ours-final.f32', memoryOf(final)),
    },
    // Our [in, out] matrices (x @ w), in layer order: bottom then top, weight then bias.
    dense: init.dense.map((a, i) => ({ name: a.name, shape: a.shape, file: writeArray(dir, `dense-${i}.f32`, a.values) })),
    ours,
  };
  writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta, null, 1) + '\n');
}

export async function runMovement(o: MovementOptions): Promise<Record<string, unknown>[]> {
  const t0 = performance.now();
  const data = synthDataset('latent', { rows: o.rows, seed: 1, model: 'latent' }, 0.1);
  const p = new PreparedData(data);
  const list = valueList(p.counter);
  const lines: Record<string, unknown>[] = [];
  const emit = (l: Record<string, unknown>) => {
    lines.push(l);
    if (o.out) appendFileSync(o.out, JSON.stringify(l) + '\n');
    if (o.print) process.stdout.write(JSON.stringify(l) + '\n');
  };
  if (o.out) {
    mkdirSync(path.dirname(o.out), { recursive: true });
    writeFileSync(o.out, '');
  }
  const c = o.config;
  emit({ type: 'config', impl: 'ours', rows: o.rows, trainRows: data.train.rows, testRows: data.test.rows, distinctValues: p.distinct, compression: o.compression, ...c, seconds: (performance.now() - t0) / 1000 });
  for (const kind of o.kinds) {
    const rc: RunConfig = { ...c, kind, compression: o.compression };
    const spec = await embeddingSpec(p, rc);
    let init: ModelState | undefined;
    let final: ModelState | undefined;
    const r = await runOne(p, rc, {
      beforeTraining: async (m: Dlrm) => void (init = await m.exportState()),
      afterTraining: async (m: Dlrm) => void (final = await m.exportState()),
    });
    const s = movementStats(memoryOf(init!), memoryOf(final!), list, locator(spec, c.shape.d), c.shape.d);
    const id = { impl: 'ours', kind, compression: r.compression, optimizer: c.optimizer, lr: c.learningRate, epochs: c.epochs, batch: c.batchSize };
    const run = { type: 'run', ...id, auc: r.auc, logloss: r.logloss, memoryFloats: r.memoryFloats, memoryRmsInit: s.memoryRmsInit, memoryRmsMove: s.memoryRmsMove, steps: r.steps, seconds: r.seconds };
    emit(run);
    for (const b of s.bands) emit({ type: 'band', ...id, ...b });
    o.log(`movement: ${kind}: AUC ${r.auc.toFixed(4)}; ${s.bands.map((b) => `${b.band}: ${b.ratio.toExponential(2)}`).join(', ')} (${r.seconds.toFixed(0)} s)`);
    if (kind === 'full' && o.exportDir && spec.kind === 'full') exportForTorch(o.exportDir, p, o, spec.vocab, init!, final!, { ...run, bands: s.bands });
  }
  return lines;
}

type Line = Record<string, unknown>;

function fmt(x: unknown, digits = 3): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toPrecision(digits) : '-';
}

/**
 * A markdown table of the JSON lines of bench/movement.ts and bench/torch_dlrm_movement.py:
 * per optimizer and band, RMS(move) / RMS(initial) for each (impl, kind) with RMS(move) in
 * parentheses (shared memory starts far smaller than full tables, so the ratio alone misleads),
 * then test AUC.
 */
export function movementTable(lines: Line[]): string {
  const cols: [string, string][] = [['ours', 'full'], ['torch', 'full'], ['ours', 'hashnet'], ['ours', 'scma']];
  const head = ['optimizer', 'band (training rows)', 'values', 'share of lookups', ...cols.map(([i, k]) => `${k} (${i})`)];
  const out = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
  const opts = [...new Set(lines.filter((l) => l.type === 'band').map((l) => `${l.optimizer} lr ${l.lr}`))];
  for (const opt of opts) {
    const bands = lines.filter((l) => l.type === 'band' && `${l.optimizer} lr ${l.lr}` === opt);
    const ref = bands.filter((l) => l.impl === 'ours' && l.kind === 'full');
    const total = ref.reduce((s, b) => s + (b.occurrences as number), 0);
    for (const b of ref) {
      const cell = ([impl, kind]: [string, string]) => {
        const x = bands.find((l) => l.impl === impl && l.kind === kind && l.band === b.band);
        return x ? `${fmt(x.ratio)} (${fmt(x.rmsMove, 2)})` : '-';
      };
      out.push(`| ${opt} | ${b.band} | ${b.values} | ${((100 * (b.occurrences as number)) / total).toFixed(1)}% | ${cols.map(cell).join(' | ')} |`);
    }
    const runs = lines.filter((l) => l.type === 'run' && `${l.optimizer} lr ${l.lr}` === opt);
    const auc = ([impl, kind]: [string, string]) => fmt(runs.find((l) => l.impl === impl && l.kind === kind)?.auc, 4);
    out.push(`| ${opt} | test AUC | | | ${cols.map(auc).join(' | ')} |`);
  }
  return out.join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--report');
  if (i >= 0) {
    const lines = process.argv[i + 1].split(',').flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line));
    process.stdout.write(movementTable(lines));
  } else await runMovement(parseMovementArgs(process.argv.slice(2)));
}
