/**
 * The quality experiment's outputs from its run records: one summary row per
 * (dataset, kind, compression) with mean and spread over seeds, a markdown table,
 * and a standalone SVG of test AUC against memory (one line per compressed kind,
 * full tables as a dashed line, the oracle as a dotted one when known).
 */
import type { RunResult } from './quality-run.js';

export interface RunRecord extends RunResult {
  type: 'run';
  dataset: string;
  /** 'main' for the grid, or the ablation it belongs to. */
  study: string;
}

export interface SummaryRow {
  type: 'summary';
  dataset: string;
  study: string;
  kind: string;
  compression: number | null;
  numHash: number | null;
  sample: number | null;
  seeds: number;
  memoryBytes: number;
  aucMean: number;
  aucSd: number;
  loglossMean: number;
  loglossSd: number;
  samplesPerSecond: number;
}

export function meanSd(xs: number[]): { mean: number; sd: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  // Sample standard deviation (n - 1): the spread between seeds, 0 for one seed.
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd };
}

export function summarize(records: RunRecord[]): SummaryRow[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const key = JSON.stringify([r.dataset, r.study, r.kind, r.compression, r.numHash, r.sample]);
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()].map((g) => {
    const auc = meanSd(g.map((r) => r.auc));
    const ll = meanSd(g.map((r) => r.logloss));
    const r0 = g[0];
    return {
      type: 'summary',
      dataset: r0.dataset,
      study: r0.study,
      kind: r0.kind,
      compression: r0.compression,
      numHash: r0.numHash,
      sample: r0.sample,
      seeds: g.length,
      memoryBytes: Math.round(meanSd(g.map((r) => r.memoryBytes)).mean),
      aucMean: auc.mean,
      aucSd: auc.sd,
      loglossMean: ll.mean,
      loglossSd: ll.sd,
      samplesPerSecond: meanSd(g.map((r) => r.samplesPerSecond)).mean,
    };
  });
}

function fmtCompression(c: number | null): string {
  if (c === null) return '1 (full)';
  const inv = 1 / c;
  return Math.abs(inv - Math.round(inv)) < 1e-9 ? `1/${Math.round(inv)}` : String(c);
}

function fmtBytes(b: number): string {
  if (b >= 1e6) return `${(b / 1e6).toFixed(2)} MB`;
  if (b >= 1e3) return `${(b / 1e3).toFixed(1)} kB`;
  return `${b} B`;
}

export function markdownTable(rows: SummaryRow[]): string {
  const head = '| dataset | study | kind | compression | K | P | seeds | memory | AUC mean ± sd | logloss mean ± sd | samples/s |\n|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|';
  const body = rows.map(
    (r) =>
      `| ${r.dataset} | ${r.study} | ${r.kind} | ${fmtCompression(r.compression)} | ${r.numHash ?? ''} | ${r.sample ?? ''} | ${r.seeds} | ${fmtBytes(r.memoryBytes)} | ${r.aucMean.toFixed(4)} ± ${r.aucSd.toFixed(4)} | ${r.loglossMean.toFixed(4)} ± ${r.loglossSd.toFixed(4)} | ${Math.round(r.samplesPerSecond)} |`,
  );
  return [head, ...body].join('\n') + '\n';
}

const COLORS: Record<string, string> = { hashnet: '#d62728', scma: '#1f77b4', robe: '#2ca02c', full: '#444444', oracle: '#999999' };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * AUC against memory (log2 bytes) for one dataset's main study. Each compressed kind
 * is a polyline through its means with ±sd bars; `data-kind` attributes name the lines
 * so a test can find them.
 */
export function aucPlotSvg(rows: SummaryRow[], opts: { title: string; oracleAuc?: number | null }): string {
  const W = 640;
  const H = 420;
  const m = { l: 70, r: 130, t: 40, b: 55 };
  const main = rows.filter((r) => r.study === 'main');
  const full = main.find((r) => r.kind === 'full');
  const shared = main.filter((r) => r.kind !== 'full');
  const xs = main.map((r) => Math.log2(r.memoryBytes));
  const ysAll = main.flatMap((r) => [r.aucMean - r.aucSd, r.aucMean + r.aucSd]);
  if (opts.oracleAuc) ysAll.push(opts.oracleAuc);
  let x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  if (x1 - x0 < 1) (x0 -= 0.5), (x1 += 0.5);
  let y0 = Math.min(...ysAll);
  let y1 = Math.max(...ysAll);
  const pad = Math.max(0.002, (y1 - y0) * 0.08);
  y0 -= pad;
  y1 += pad;
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(opts.title)}</text>`);
  // Axes and ticks: powers of two on x, ~6 steps on y.
  out.push(`<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`);
  out.push(`<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`);
  for (let e = Math.ceil(x0); e <= Math.floor(x1); e++) {
    if ((x1 - x0 > 12) && e % 2) continue;
    const x = px(e);
    out.push(`<line x1="${x}" y1="${H - m.b}" x2="${x}" y2="${H - m.b + 4}" stroke="black"/><text x="${x}" y="${H - m.b + 17}" text-anchor="middle">${esc(fmtBytes(2 ** e))}</text>`);
  }
  const step = niceStep((y1 - y0) / 6);
  for (let y = Math.ceil(y0 / step) * step; y <= y1; y += step) {
    out.push(`<line x1="${m.l - 4}" y1="${py(y)}" x2="${m.l}" y2="${py(y)}" stroke="black"/><text x="${m.l - 7}" y="${py(y) + 4}" text-anchor="end">${y.toFixed(step < 0.01 ? 3 : 2)}</text>`);
  }
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">embedding memory (bytes, log scale)</text>`);
  out.push(`<text transform="translate(18 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">test AUC (mean ± sd over seeds)</text>`);
  const legend: [string, string, string][] = [];
  if (full) {
    out.push(`<line data-kind="full" x1="${m.l}" y1="${py(full.aucMean)}" x2="${W - m.r}" y2="${py(full.aucMean)}" stroke="${COLORS.full}" stroke-dasharray="6 4" stroke-width="1.5"/>`);
    legend.push(['full', COLORS.full, '6 4']);
  }
  if (opts.oracleAuc) {
    out.push(`<line data-kind="oracle" x1="${m.l}" y1="${py(opts.oracleAuc)}" x2="${W - m.r}" y2="${py(opts.oracleAuc)}" stroke="${COLORS.oracle}" stroke-dasharray="2 3"/>`);
    legend.push(['oracle', COLORS.oracle, '2 3']);
  }
  for (const kind of [...new Set(shared.map((r) => r.kind))]) {
    const pts = shared.filter((r) => r.kind === kind).sort((a, b) => a.memoryBytes - b.memoryBytes);
    const color = COLORS[kind] ?? '#9467bd';
    out.push(`<polyline data-kind="${esc(kind)}" fill="none" stroke="${color}" stroke-width="2" points="${pts.map((r) => `${px(Math.log2(r.memoryBytes)).toFixed(1)},${py(r.aucMean).toFixed(1)}`).join(' ')}"/>`);
    for (const r of pts) {
      const x = px(Math.log2(r.memoryBytes));
      out.push(`<line x1="${x}" y1="${py(r.aucMean - r.aucSd)}" x2="${x}" y2="${py(r.aucMean + r.aucSd)}" stroke="${color}"/><circle cx="${x}" cy="${py(r.aucMean)}" r="3" fill="${color}"/>`);
    }
    legend.push([kind, color, '']);
  }
  legend.forEach(([name, color, dash], i) => {
    const y = m.t + 10 + i * 20;
    out.push(`<line x1="${W - m.r + 12}" y1="${y}" x2="${W - m.r + 40}" y2="${y}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/><text x="${W - m.r + 46}" y="${y + 4}">${esc(name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const k of [1, 2, 5, 10]) if (k * p >= raw) return k * p;
  return 10 * p;
}
