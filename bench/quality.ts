/**
 * bench/quality: does SCMA beat random sharing? (issue 11)
 *
 * Trains full, hashnet, scma and robe embeddings at several compressions with several
 * seeds on each dataset: the same model, the same rows in the same seeded order and
 * the same number of steps for every kind; only the embedding differs. Then the
 * ablations at one compression (SCMA's K and P) and the mapping's actual sharing
 * (mean Jaccard of value pairs that share a location, SCMA against HashNet and ROBE).
 *
 *   node dist/bench/quality.js [--datasets latent,default,kaggle10k] [--rows 200000]
 *        [--compressions 1/4,1/16,1/64,1/256,1/1024] [--seeds 3] [--epochs 1] [--batch 256]
 *        [--d 8] [--bottom 13-32-8] [--top 64-1] [--lr 0.1] [--optimizer adagrad]
 *        [--ablations] [--out bench/results/quality] [--docs docs] [--backend wasm]
 *
 * Writes <out>.jsonl (every run, summary and sharing record, appended as they come, so
 * a killed run keeps what it finished), <out>.md, and <docs>/quality-<dataset>.svg.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { exactAuc } from '../core/metrics.js';
import { hashNetCodes } from '../scma/codes.js';
import { robeCodes } from '../scma/robe-codes.js';
import { synthDataset, tsvDataset, type Dataset } from './quality-data.js';
import { PreparedData, QUALITY_KINDS, runOne, type ModelShape, type QualityKind, type RunConfig } from './quality-run.js';
import { RowSets, sharingStats } from './quality-jaccard.js';
import { aucPlotSvg, markdownTable, summarize, type RunRecord } from './quality-report.js';

export const KAGGLE_SAMPLE = '/work/shared/data/criteo/kaggle-train-head-10k.tsv';

export interface QualityOptions {
  datasets: string[];
  rows: number;
  compressions: number[];
  seeds: number;
  kinds: QualityKind[];
  epochs: number;
  batchSize: number;
  learningRate: number;
  optimizer: 'sgd' | 'adagrad';
  shape: ModelShape;
  backend: string;
  /** Ablations at this compression (null: none). */
  ablationCompression: number | null;
  numHashes: number[];
  samples: number[];
  /** SCMA's default K and P for the main grid. */
  numHash: number;
  sample: number;
  kaggleFile: string;
  testFraction: number;
  /** Knobs of the latent synthetic model (input/synth-latent.ts) and its group count. */
  latent: Record<string, number>;
  groups: number | undefined;
  init: 'max-ln' | 'm-over-d';
  /** Seeds firstSeed .. firstSeed + seeds - 1 (so seeds can run in separate processes). */
  firstSeed: number;
  main: boolean;
  sharing: boolean;
  out: string;
  docs: string;
  log: (line: string) => void;
}

function parseFraction(s: string): number {
  const m = /^1\/(\d+)$/.exec(s.trim());
  const v = m ? 1 / Number(m[1]) : Number(s);
  if (!(v > 0 && v <= 1)) throw new Error(`bad compression ${s}: give 1/N or a number in (0, 1]`);
  return v;
}

function parseSizes(s: string): number[] {
  return s.split('-').map((x) => {
    const n = Number(x);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`bad layer size ${x} in ${s}`);
    return n;
  });
}

export function parseQualityArgs(argv: string[]): QualityOptions {
  const { values: a } = parseArgs({
    args: argv,
    allowNegative: true,
    options: {
      datasets: { type: 'string', default: 'latent,default,kaggle10k' },
      rows: { type: 'string', default: '200000' },
      compressions: { type: 'string', default: '1/4,1/16,1/64,1/256,1/1024' },
      seeds: { type: 'string', default: '3' },
      kinds: { type: 'string', default: QUALITY_KINDS.join(',') },
      epochs: { type: 'string', default: '1' },
      batch: { type: 'string', default: '256' },
      lr: { type: 'string', default: '0.05' },
      optimizer: { type: 'string', default: 'adagrad' },
      d: { type: 'string', default: '8' },
      bottom: { type: 'string' },
      top: { type: 'string', default: '64-1' },
      backend: { type: 'string', default: 'auto' },
      ablations: { type: 'boolean', default: false },
      'ablation-compression': { type: 'string', default: '1/64' },
      'num-hashes': { type: 'string', default: '1,2,4' },
      samples: { type: 'string', default: '12500,125000,1250000' },
      'num-hash': { type: 'string', default: '2' },
      sample: { type: 'string', default: '125000' },
      kaggle: { type: 'string', default: KAGGLE_SAMPLE },
      'test-fraction': { type: 'string', default: '0.1' },
      latent: { type: 'string', default: '{}' },
      groups: { type: 'string' },
      init: { type: 'string', default: 'max-ln' },
      'first-seed': { type: 'string', default: '1' },
      main: { type: 'boolean', default: true },
      sharing: { type: 'boolean', default: true },
      merge: { type: 'string' },
      out: { type: 'string', default: 'bench/results/quality' },
      docs: { type: 'string', default: 'docs' },
    },
  });
  const d = Number(a.d);
  const kinds = a.kinds!.split(',') as QualityKind[];
  for (const k of kinds) if (!QUALITY_KINDS.includes(k)) throw new Error(`unknown kind ${k}: use ${QUALITY_KINDS.join(', ')}`);
  const optimizer = a.optimizer as 'sgd' | 'adagrad';
  if (optimizer !== 'sgd' && optimizer !== 'adagrad') throw new Error('--optimizer must be sgd or adagrad');
  return {
    datasets: a.datasets!.split(','),
    rows: Number(a.rows),
    compressions: a.compressions!.split(',').map(parseFraction),
    seeds: Number(a.seeds),
    kinds,
    epochs: Number(a.epochs),
    batchSize: Number(a.batch),
    learningRate: Number(a.lr),
    optimizer,
    shape: { d, bottom: a.bottom ? parseSizes(a.bottom) : [13, 32, d], top: parseSizes(a.top!) },
    backend: a.backend!,
    ablationCompression: a.ablations ? parseFraction(a['ablation-compression']!) : null,
    numHashes: a['num-hashes']!.split(',').map(Number),
    samples: a.samples!.split(',').map(Number),
    numHash: Number(a['num-hash']),
    sample: Number(a.sample),
    kaggleFile: a.kaggle!,
    testFraction: Number(a['test-fraction']),
    latent: JSON.parse(a.latent!) as Record<string, number>,
    groups: a.groups === undefined ? undefined : Number(a.groups),
    init: a.init === 'm-over-d' ? 'm-over-d' : a.init === 'max-ln' ? 'max-ln' : (() => { throw new Error('--init must be max-ln or m-over-d'); })(),
    firstSeed: Number(a['first-seed']),
    main: a.main as boolean,
    sharing: a.sharing as boolean,
    out: a.out!,
    docs: a.docs!,
    log: (line) => process.stderr.write(line + '\n'),
  };
}

function loadDataset(name: string, o: QualityOptions): Dataset | null {
  if (name === 'latent') return synthDataset(name, { rows: o.rows, seed: 1, model: name, latent: o.latent, ...(o.groups ? { groups: o.groups } : {}) }, o.testFraction);
  if (name === 'default') return synthDataset(name, { rows: o.rows, seed: 1, model: name }, o.testFraction);
  if (name === 'kaggle10k') {
    if (!existsSync(o.kaggleFile)) return null;
    return tsvDataset('kaggle10k (noise-limited: ~1k test rows)', o.kaggleFile, o.testFraction);
  }
  throw new Error(`unknown dataset ${name}: use latent, default or kaggle10k`);
}

export async function runQuality(o: QualityOptions): Promise<RunRecord[]> {
  mkdirSync(path.dirname(o.out), { recursive: true });
  mkdirSync(o.docs, { recursive: true });
  const jsonl = `${o.out}.jsonl`;
  writeFileSync(jsonl, JSON.stringify({ type: 'config', ...o, log: undefined, started: new Date().toISOString() }) + '\n');
  const emit = (obj: object) => appendFileSync(jsonl, JSON.stringify(obj) + '\n');
  const all: RunRecord[] = [];
  for (const name of o.datasets) {
    const t0 = performance.now();
    const data = loadDataset(name, o);
    if (!data) {
      o.log(`quality: ${name}: ${o.kaggleFile} is not here, skipped`);
      emit({ type: 'skipped', dataset: name, reason: `${o.kaggleFile} not found` });
      continue;
    }
    const prepared = new PreparedData(data);
    const oracleAuc = data.testProbs ? exactAuc(data.test.label!, data.testProbs) : null;
    emit({ type: 'dataset', dataset: data.name, trainRows: data.train.rows, testRows: data.test.rows, distinctValues: prepared.distinct, oracleAuc, seconds: (performance.now() - t0) / 1000 });
    o.log(`quality: ${data.name}: ${data.train.rows} train / ${data.test.rows} test rows, ${prepared.distinct} distinct values, oracle AUC ${oracleAuc?.toFixed(4) ?? 'n/a'}`);
    const records: RunRecord[] = [];
    const run = async (study: string, c: Omit<RunConfig, 'shape' | 'batchSize' | 'learningRate' | 'optimizer' | 'epochs' | 'backend' | 'init'>) => {
      const r = await runOne(prepared, { ...c, init: o.init, shape: o.shape, batchSize: o.batchSize, learningRate: o.learningRate, optimizer: o.optimizer, epochs: o.epochs, backend: o.backend });
      const rec: RunRecord = { type: 'run', dataset: data.name, study, ...r };
      emit(rec);
      records.push(rec);
      o.log(`  ${study} ${r.kind} ${r.compression === null ? 'full' : `1/${Math.round(1 / r.compression)}`} seed ${r.seed}${r.numHash !== null ? ` K=${r.numHash} P=${r.sample}` : ''}: AUC ${r.auc.toFixed(4)} logloss ${r.logloss.toFixed(4)} (${r.seconds.toFixed(1)} s, ${Math.round(r.samplesPerSecond)}/s)`);
    };
    const seeds = Array.from({ length: o.seeds }, (_, i) => o.firstSeed + i);
    for (const seed of o.main ? seeds : []) {
      for (const kind of o.kinds) {
        if (kind === 'full') await run('main', { kind, compression: 1, seed, numHash: o.numHash, sample: o.sample });
        else for (const compression of o.compressions) await run('main', { kind, compression, seed, numHash: o.numHash, sample: o.sample });
      }
    }
    if (o.ablationCompression !== null && o.kinds.includes('scma')) {
      const compression = o.ablationCompression;
      for (const seed of seeds) {
        for (const numHash of o.numHashes) if (numHash !== o.numHash) await run('ablation-K', { kind: 'scma', compression, seed, numHash, sample: o.sample });
        for (const sample of o.samples) if (sample !== o.sample) await run('ablation-P', { kind: 'scma', compression, seed, numHash: o.numHash, sample });
      }
    }
    // The mapping's actual sharing at each compression (seed 1's codes).
    const sets = o.sharing ? new RowSets(data.train) : null;
    const d = o.shape.d;
    for (const compression of sets ? o.compressions : []) {
      const m = prepared.memoryFloats(compression, d);
      const codesOf: Record<string, () => Promise<import('../scma/codes.js').LocationCodes>> = {
        hashnet: async () => hashNetCodes(d, 1),
        robe: async () => robeCodes(d, 1),
        scma: () => prepared.mapping(d, o.numHash, o.sample, 1),
      };
      for (const kind of ['scma', 'hashnet', 'robe']) {
        for (const minCount of [1, 5]) {
          const s = sharingStats(sets!, await codesOf[kind](), m, minCount);
          emit({ type: 'sharing', dataset: data.name, kind, compression, memoryFloats: m, minCount, ...s });
          o.log(`  sharing ${kind} 1/${Math.round(1 / compression)} (values with >= ${minCount} rows): ${s.pairs} pairs, mean Jaccard ${s.meanJaccard.toFixed(4)}, disjoint ${(s.disjointShare * 100).toFixed(1)}%, same code ${s.sameCodePairs} (Jaccard ${s.sameCodeJaccard.toFixed(3)})`);
        }
      }
    }
    for (const s of summarize(records)) emit(s);
    all.push(...records);
  }
  return all;
}

/** Summaries, markdown and plots from the JSON lines of one or more runs (processes). */
export function writeReport(lines: Record<string, unknown>[], out: string, docs: string): string {
  mkdirSync(path.dirname(out), { recursive: true });
  mkdirSync(docs, { recursive: true });
  const runs = lines.filter((l) => l.type === 'run') as unknown as RunRecord[];
  const datasets = new Map<string, Record<string, unknown>>();
  for (const l of lines) if (l.type === 'dataset') datasets.set(l.dataset as string, l);
  const md: string[] = [];
  const merged: Record<string, unknown>[] = [...datasets.values()];
  for (const [name, info] of datasets) {
    const summary = summarize(runs.filter((r) => r.dataset === name));
    merged.push(...(summary as unknown as Record<string, unknown>[]), ...lines.filter((l) => l.type === 'sharing' && l.dataset === name));
    const oracleAuc = (info.oracleAuc as number | null) ?? null;
    const slug = name.split(' ')[0].replace(/[^a-z0-9]+/gi, '-');
    writeFileSync(path.join(docs, `quality-${slug}.svg`), aucPlotSvg(summary, { title: `${name}: test AUC vs embedding memory`, oracleAuc }));
    const sharing = lines.filter((l) => l.type === 'sharing' && l.dataset === name) as { kind: string; compression: number; minCount: number; pairs: number; meanJaccard: number; disjointShare: number; sameCodePairs: number; sameCodeJaccard: number }[];
    const sharingMd = sharing.length
      ? `\nMapping sharing (pairs of values with an element on one float; Jaccard of their training-row sets):\n\n| kind | compression | values with >= rows | pairs | mean Jaccard | pairs never in one row | pairs with equal codes | their mean Jaccard |\n|---|---|---:|---:|---:|---:|---:|---:|\n${sharing.map((x) => `| ${x.kind} | 1/${Math.round(1 / x.compression)} | ${x.minCount} | ${x.pairs} | ${x.meanJaccard.toFixed(5)} | ${(x.disjointShare * 100).toFixed(2)}% | ${x.sameCodePairs} | ${Number.isFinite(x.sameCodeJaccard) ? x.sameCodeJaccard.toFixed(3) : '-'} |`).join('\n')}\n`
      : '';
    md.push(`### ${name}\n\n${info.trainRows} train / ${info.testRows} test rows, ${info.distinctValues} distinct (feature, value) pairs, oracle AUC ${oracleAuc?.toFixed(4) ?? 'n/a'}\n\n${markdownTable(summary)}${sharingMd}`);
  }
  writeFileSync(`${out}.jsonl`, [...lines.filter((l) => l.type === 'config'), ...merged, ...runs].map((l) => JSON.stringify(l)).join('\n') + '\n');
  const text = md.join('\n');
  writeFileSync(`${out}.md`, text);
  return text;
}

function readJsonl(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function main(argv: string[]): Promise<void> {
  const i = argv.indexOf('--merge');
  if (i >= 0) {
    const o = parseQualityArgs(argv);
    writeReport(argv[i + 1].split(',').flatMap(readJsonl), o.out, o.docs);
    return;
  }
  const o = parseQualityArgs(argv);
  await runQuality(o);
  writeReport(readJsonl(`${o.out}.jsonl`), o.out, o.docs);
}
if (import.meta.url === `file://${process.argv[1]}`) {
  await main(process.argv.slice(2));
}
