/**
 * `plot` checked on a real rendering (resvg): the axes, each run's line in each
 * panel and the legend are where the layout says, in the runs' colours.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { runPipeline } from '../helpers/cli.js';
import { plot, defaultRunName } from '../../pipeline/plot.js';
import { niceTicks, type Box } from '../../pipeline/plot-svg.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plot-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Lines as train --metrics writes them: train every 10 steps, val/test evaluations every 50. */
function metricsFile(name: string, lossAt: (s: number) => number, aucAt: (s: number) => number): string {
  const lines: string[] = [];
  for (let step = 10; step <= 200; step += 10) {
    lines.push(JSON.stringify({ type: 'train', step, epoch: 1, loss: lossAt(step), samplesPerSecond: 1234.5 }));
    if (step % 50 === 0) {
      for (const split of ['val', 'test']) lines.push(JSON.stringify({ type: 'eval', split, step, epoch: 1, final: step === 200, logloss: 0.5, auc: aucAt(step) + (split === 'val' ? 0.01 : 0), accuracy: 0.7, rows: 100 }));
    }
  }
  lines.push(JSON.stringify({ type: 'summary', steps: 200 }));
  const f = path.join(dir, name, 'metrics.jsonl');
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

const scma = metricsFile('run-scma', (s) => 0.7 - 0.001 * s, (s) => 0.6 + 0.0006 * s);
const hashnet = metricsFile('run-hashnet', (s) => 0.65 - 0.0005 * s, (s) => 0.62 + 0.0003 * s);

interface Image {
  width: number;
  height: number;
  px: Uint8Array;
}

function render(svg: string): Image {
  const r = new Resvg(svg, { font: { loadSystemFonts: true }, background: '#ffffff' }).render();
  return { width: r.width, height: r.height, px: new Uint8Array(r.pixels) };
}

function rgb(img: Image, x: number, y: number): [number, number, number] {
  const i = (Math.round(y) * img.width + Math.round(x)) * 4;
  return [img.px[i], img.px[i + 1], img.px[i + 2]];
}

const hex = (c: string): [number, number, number] => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as [number, number, number];
const near = (a: number[], b: number[], tol = 40) => Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]) <= tol;
const dark = (a: number[]) => a[0] < 90 && a[1] < 90 && a[2] < 90;

/** Pixels of a box matching a predicate. */
function count(img: Image, b: Box, pred: (c: [number, number, number]) => boolean): number {
  let n = 0;
  for (let y = Math.floor(b.y); y < b.y + b.height; y++) for (let x = Math.floor(b.x); x < b.x + b.width; x++) if (pred(rgb(img, x, y))) n++;
  return n;
}

t.test('nice ticks and default run names', async (t) => {
  t.same(niceTicks(0, 200, 5), [0, 50, 100, 150, 200]);
  t.same(niceTicks(0.58, 0.73, 5), [0.6, 0.65, 0.7]);
  t.equal(defaultRunName('run-scma/metrics.jsonl'), 'run-scma');
  t.equal(defaultRunName('scma.jsonl'), 'scma');
});

t.test('the CLI writes a standalone SVG; rendered, it shows both axes, each run in each panel, and a legend naming the runs', async (t) => {
  const out = path.join(dir, 'curves.svg');
  const r = await runPipeline(['plot', '--metrics', scma, hashnet, '--label', 'SCMA', '--label', 'HashNet', '--out', out]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /plot: 2 runs \(SCMA, HashNet\) -> /);
  const svg = fs.readFileSync(out, 'utf8');
  t.match(svg, /^<\?xml[^\n]*\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.notMatch(svg, /<script|href=|@import|url\((?!#)/, 'nothing external, no scripts');
  t.match(svg, />SCMA<\/text>/);
  t.match(svg, />HashNet<\/text>/);

  const { layout } = await plot({ metrics: [scma, hashnet], labels: ['SCMA', 'HashNet'] });
  const img = render(svg);
  t.equal(img.width, layout.width);
  for (const [name, b] of Object.entries(layout.panels)) {
    const leftAxis = count(img, { x: b.x - 1, y: b.y, width: 2, height: b.height }, dark);
    const bottomAxis = count(img, { x: b.x, y: b.y + b.height - 1, width: b.width, height: 2 }, dark);
    t.ok(leftAxis >= b.height * 0.95, `${name}: the y axis is drawn (${leftAxis} dark pixels of ${b.height})`);
    t.ok(bottomAxis >= b.width * 0.95, `${name}: the x axis is drawn (${bottomAxis} of ${b.width})`);
    for (const l of layout.legend) {
      const n = count(img, { x: b.x + 2, y: b.y, width: b.width - 2, height: b.height - 2 }, (c) => near(c, hex(l.color)));
      t.ok(n >= 150, `${name}: ${l.name}'s line is drawn in ${l.color} (${n} pixels)`);
    }
  }
  for (const l of layout.legend) {
    const sw = count(img, { ...l.swatch, y: l.swatch.y - 2 }, (c) => near(c, hex(l.color)));
    t.ok(sw >= l.swatch.width * 2, `legend: ${l.name}'s swatch in its colour`);
    const text = count(img, l.label, dark);
    t.ok(text >= 20 * l.name.length * 0.5, `legend: ${l.name} is written beside it (${text} dark pixels)`);
  }
  // The two runs differ: colours are not shared.
  t.not(layout.legend[0].color, layout.legend[1].color);
});

t.test('one run, a run with only a final evaluation, and clear errors', async (t) => {
  const single = path.join(dir, 'final-only.jsonl');
  fs.writeFileSync(single, JSON.stringify({ type: 'eval', split: 'test', step: 42, epoch: 1, final: true, logloss: 0.5, auc: 0.71, accuracy: 0.7, rows: 10 }) + '\n');
  const one = await runPipeline(['plot', single]);
  t.equal(one.code, 0, one.stderr);
  t.match(one.stdout, /<circle /, 'a single evaluation is drawn as a marker');
  t.match(one.stdout, />final-only<\/text>/, 'named after the file');

  const bad = path.join(dir, 'bad.jsonl');
  fs.writeFileSync(bad, '{"type":"train","step":1,"loss":0.5}\nnot json\n');
  const r = await runPipeline(['plot', '--metrics', bad]);
  t.equal(r.code, 1);
  t.match(r.stderr, /bad\.jsonl, line 2: not a JSON line/);
  const missing = await runPipeline(['plot', '--metrics', path.join(dir, 'nope.jsonl')]);
  t.match(missing.stderr, /nope\.jsonl: no such file/);
  const labels = await runPipeline(['plot', '--metrics', scma, hashnet, '--label', 'one']);
  t.equal(labels.code, 2);
  t.match(labels.stderr, /Invalid option label: needs one name per --metrics file \(2\)/);
  const none = await runPipeline(['plot']);
  t.equal(none.code, 2);
  t.match(none.stderr, /metrics/);
});
