/**
 * Training curves as one standalone SVG (no scripts, no external fonts or
 * images: a browser opens it from disk): train loss against step on the left,
 * validation (dashed) and test (solid) AUC against step on the right, one colour
 * per run, and a legend naming the runs. Pure: data in, SVG text and the layout
 * out (the layout lets tests find the axes, lines and legend in a rendering).
 */

export interface Point {
  step: number;
  value: number;
}

export interface RunCurves {
  name: string;
  loss: Point[];
  valAuc: Point[];
  testAuc: Point[];
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlotLayout {
  width: number;
  height: number;
  /** The loss and the AUC panels' plotting areas (the axes are their left and bottom edges). */
  panels: { loss: Box; auc: Box };
  /** Per run: its colour and where its legend swatch and name are drawn. */
  legend: { name: string; color: string; swatch: Box; label: Box }[];
}

/** Colour-blind-safe (Okabe-Ito), dark enough on white. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** 1, 2 or 5 times a power of ten: about `count` ticks covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi <= lo) hi = lo + (lo === 0 ? 1 : Math.abs(lo) * 0.1);
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

interface Series {
  points: Point[];
  color: string;
  dashed: boolean;
}

/** One panel: frame, ticks, grid, axis titles and its series, clipped to the plotting area. */
function panel(box: Box, title: string, yTitle: string, series: Series[], clipId: string): string {
  const all = series.flatMap((s) => s.points);
  const out: string[] = [];
  const xs = all.map((p) => p.step);
  const ys = all.map((p) => p.value);
  const xLo = 0;
  const xHi = xs.length ? Math.max(...xs) : 1;
  let yLo = ys.length ? Math.min(...ys) : 0;
  let yHi = ys.length ? Math.max(...ys) : 1;
  const pad = (yHi - yLo) * 0.05 || Math.abs(yHi) * 0.05 || 0.05;
  yLo -= pad;
  yHi += pad;
  const xTicks = niceTicks(xLo, xHi, 5);
  const yTicks = niceTicks(yLo, yHi, 5);
  const xMax = Math.max(xHi, xTicks[xTicks.length - 1] ?? xHi);
  const X = (v: number) => box.x + ((v - xLo) / (xMax - xLo || 1)) * box.width;
  const Y = (v: number) => box.y + box.height - ((v - yLo) / (yHi - yLo || 1)) * box.height;
  out.push(`<defs><clipPath id="${clipId}"><rect x="${box.x}" y="${box.y}" width="${box.width}" height="${box.height}"/></clipPath></defs>`);
  out.push(`<text x="${box.x + box.width / 2}" y="${box.y - 12}" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (const v of yTicks) {
    if (v < yLo || v > yHi) continue;
    const y = Y(v).toFixed(1);
    out.push(`<line x1="${box.x}" y1="${y}" x2="${box.x + box.width}" y2="${y}" stroke="#e6e6e6" stroke-width="1"/>`);
    out.push(`<line x1="${box.x - 5}" y1="${y}" x2="${box.x}" y2="${y}" stroke="#222" stroke-width="1"/>`);
    out.push(`<text x="${box.x - 8}" y="${y}" dy="4" text-anchor="end" font-size="11">${fmtTick(v)}</text>`);
  }
  for (const v of xTicks) {
    const x = X(v).toFixed(1);
    out.push(`<line x1="${x}" y1="${box.y + box.height}" x2="${x}" y2="${box.y + box.height + 5}" stroke="#222" stroke-width="1"/>`);
    out.push(`<text x="${x}" y="${box.y + box.height + 18}" text-anchor="middle" font-size="11">${fmtTick(v)}</text>`);
  }
  out.push(`<text x="${box.x + box.width / 2}" y="${box.y + box.height + 38}" text-anchor="middle" font-size="12">step</text>`);
  out.push(`<text transform="translate(${box.x - 48} ${box.y + box.height / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(yTitle)}</text>`);
  out.push(`<g clip-path="url(#${clipId})" fill="none" stroke-width="2.5" stroke-linejoin="round" stroke-linecap="round">`);
  for (const s of series) {
    if (s.points.length === 0) continue;
    const pts = s.points.map((p) => `${X(p.step).toFixed(1)},${Y(p.value).toFixed(1)}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="7 5"' : '';
    if (s.points.length > 1) out.push(`<polyline points="${pts}" stroke="${s.color}"${dash}/>`);
    // Markers where points are few, so that a run with a single evaluation still shows.
    if (s.points.length <= 40) {
      for (const p of s.points) out.push(`<circle cx="${X(p.step).toFixed(1)}" cy="${Y(p.value).toFixed(1)}" r="3.5" fill="${s.dashed ? '#fff' : s.color}" stroke="${s.color}" stroke-width="2"/>`);
    }
  }
  out.push('</g>');
  // Axes last, on top of the grid: the left and bottom edges.
  out.push(`<path d="M${box.x} ${box.y}V${box.y + box.height}H${box.x + box.width}" fill="none" stroke="#222" stroke-width="1.5"/>`);
  if (all.length === 0) out.push(`<text x="${box.x + box.width / 2}" y="${box.y + box.height / 2}" text-anchor="middle" font-size="12" fill="#888">no data</text>`);
  return out.join('\n');
}

export function renderCurvesSvg(runs: RunCurves[], { title = 'Training curves' }: { title?: string } = {}): { svg: string; layout: PlotLayout } {
  const panelW = 420;
  const panelH = 300;
  const left = 80;
  const gap = 110;
  const top = 70;
  const legendTop = top + panelH + 60;
  const rowH = 22;
  const legendRows = runs.length + 1; // the runs, then the line-style key
  const width = left + 2 * panelW + gap + 30;
  const height = legendTop + legendRows * rowH + 20;
  const loss: Box = { x: left, y: top, width: panelW, height: panelH };
  const auc: Box = { x: left + panelW + gap, y: top, width: panelW, height: panelH };
  const colors = runs.map((_, i) => PALETTE[i % PALETTE.length]);
  const legend = runs.map((r, i) => ({
    name: r.name,
    color: colors[i],
    swatch: { x: left, y: legendTop + i * rowH, width: 28, height: 4 },
    label: { x: left + 38, y: legendTop + i * rowH - 9, width: Math.max(40, r.name.length * 8), height: 16 },
  }));
  const parts: string[] = [];
  parts.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" fill="#222">`);
  parts.push(`<title>${esc(title)}: ${esc(runs.map((r) => r.name).join(', '))}</title>`);
  parts.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  parts.push(`<text x="${width / 2}" y="28" text-anchor="middle" font-size="18" font-weight="bold">${esc(title)}</text>`);
  parts.push(panel(loss, 'Train loss', 'logloss (mean over --print-freq steps)', runs.map((r, i) => ({ points: r.loss, color: colors[i], dashed: false })), 'clip-loss'));
  parts.push(
    panel(
      auc,
      'AUC',
      'AUC',
      runs.flatMap((r, i) => [
        { points: r.valAuc, color: colors[i], dashed: true },
        { points: r.testAuc, color: colors[i], dashed: false },
      ]),
      'clip-auc',
    ),
  );
  for (const l of legend) {
    parts.push(`<rect x="${l.swatch.x}" y="${l.swatch.y - 2}" width="${l.swatch.width}" height="${l.swatch.height}" fill="${l.color}"/>`);
    parts.push(`<text x="${l.label.x}" y="${l.swatch.y + 4}" font-size="13">${esc(l.name)}</text>`);
  }
  const keyY = legendTop + runs.length * rowH;
  parts.push(`<line x1="${left}" y1="${keyY}" x2="${left + 28}" y2="${keyY}" stroke="#222" stroke-width="2.5"/>`);
  parts.push(`<text x="${left + 38}" y="${keyY + 4}" font-size="12">test AUC</text>`);
  parts.push(`<line x1="${left + 130}" y1="${keyY}" x2="${left + 158}" y2="${keyY}" stroke="#222" stroke-width="2.5" stroke-dasharray="7 5"/>`);
  parts.push(`<text x="${left + 168}" y="${keyY + 4}" font-size="12">validation AUC</text>`);
  parts.push('</svg>');
  return { svg: parts.join('\n') + '\n', layout: { width, height, panels: { loss, auc }, legend } };
}
