/**
 * The layering rule, checked on the compiled imports (dist/, next to this file):
 *
 *     core < io < input < stages < scma < model < pipeline < bin
 *
 * a module may import only from its own layer or a lower one, and no chain of
 * imports may lead back to where it started. bench/ sits on top of everything and
 * test/ is not a layer, so neither is checked as an importer. Type-only imports
 * vanish from the compiled code; they follow the same rule by convention.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const LAYERS = ['core', 'io', 'input', 'stages', 'scma', 'model', 'pipeline', 'bin'] as const;

/** Compiled modules, by path relative to dist/ ("stages/parse.js"), with their relative imports resolved the same way. */
export type ImportGraph = Map<string, string[]>;

// import ... from '...', export ... from '...', import '...', import('...') with a literal.
const IMPORT = /(?:\bimport|\bexport)\s*(?:[\w*${}\s,]+?\s*from\s*)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\bnew\s+URL\(\s*['"]([^'"]+\.js)['"]\s*,\s*import\.meta\.url\s*\)/g;

/** The relative imports of one compiled module (packages and node: builtins are no layer's business). */
export function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec.startsWith('.')) out.push(spec);
  }
  return out;
}

/** The layer of a path relative to dist/, or null for bench/, test/ and anything outside the layers. */
export function layerOf(rel: string): number | null {
  const top = rel.split('/')[0];
  const i = (LAYERS as readonly string[]).indexOf(top);
  return i < 0 ? null : i;
}

export function buildGraph(dist: string): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const layer of LAYERS) {
    const dir = path.join(dist, layer);
    if (!fs.existsSync(dir)) continue;
    for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.js')) continue;
      const file = path.join(entry.parentPath, entry.name);
      const rel = path.relative(dist, file).split(path.sep).join('/');
      const deps = importsOf(fs.readFileSync(file, 'utf8')).map((spec) => path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec)));
      graph.set(rel, deps);
    }
  }
  return graph;
}

/** "stages/parse.js imports pipeline/x.js (stages may not import from pipeline)", one per offending import. */
export function upwardImports(graph: ImportGraph): string[] {
  const found: string[] = [];
  for (const [from, deps] of graph) {
    const lf = layerOf(from)!;
    for (const to of deps) {
      const lt = layerOf(to);
      if (lt === null) found.push(`${from} imports ${to}, which is in no layer (bench/ and test/ are above the layers)`);
      else if (lt > lf) found.push(`${from} imports ${to} (${LAYERS[lf]} may not import from ${LAYERS[lt]}, a higher layer)`);
    }
  }
  return found;
}

/** Every import cycle, each as the chain of files "a.js -> b.js -> a.js" (each cycle once, from its smallest name). */
export function importCycles(graph: ImportGraph): string[] {
  const cycles = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      const s = state.get(next);
      if (s === 'open') {
        const loop = stack.slice(stack.indexOf(next));
        const start = loop.indexOf([...loop].sort()[0]);
        const canonical = [...loop.slice(start), ...loop.slice(0, start)];
        cycles.add([...canonical, canonical[0]].join(' -> '));
      } else if (s === undefined) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return [...cycles];
}

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

t.test('the compiled tree is there to check', async (t) => {
  const graph = buildGraph(dist);
  for (const layer of LAYERS) t.ok([...graph.keys()].some((f) => f.startsWith(`${layer}/`)), `${layer}/ has modules`);
  t.ok((graph.get('stages/parse.js') ?? []).includes('core/errors.js'), 'imports are read (stages/parse.js -> core/errors.js)');
  t.ok((graph.get('io/shard-pool.js') ?? []).includes('io/shard-worker.js'), 'worker entries started by new URL(..., import.meta.url) count as imports');
});

t.test('no import runs from a lower layer to a higher one', async (t) => {
  const bad = upwardImports(buildGraph(dist));
  t.same(bad, [], bad.length ? `upward imports:\n${bad.join('\n')}` : 'none');
});

t.test('no import cycles', async (t) => {
  const cycles = importCycles(buildGraph(dist));
  t.same(cycles, [], cycles.length ? `cycles:\n${cycles.join('\n')}` : 'none');
});

t.test('the checks catch what they are for', async (t) => {
  const graph: ImportGraph = new Map([
    ['core/a.js', ['stages/b.js']],
    ['stages/b.js', ['core/a.js', 'stages/c.js']],
    ['stages/c.js', ['stages/b.js']],
    ['pipeline/d.js', ['core/a.js', 'bench/e.js']],
  ]);
  t.same(upwardImports(graph), [
    'core/a.js imports stages/b.js (core may not import from stages, a higher layer)',
    'pipeline/d.js imports bench/e.js, which is in no layer (bench/ and test/ are above the layers)',
  ]);
  t.same(importCycles(graph).sort(), ['core/a.js -> stages/b.js -> core/a.js', 'stages/b.js -> stages/c.js -> stages/b.js']);
  t.same(importsOf(`import { x } from './x.js';\nexport * from "../y.js";\nimport './side.js';\nconst m = await import('./lazy.js');\nimport fs from 'node:fs';\nnew Worker(new URL('./w.js', import.meta.url));`), ['./x.js', '../y.js', './side.js', './lazy.js', './w.js']);
});
