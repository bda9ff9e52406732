/**
 * TensorFlow.js backend selection: the best available backend, or the one asked
 * for, falling back with one clear log line when it is missing or broken.
 *
 * tfjs-core's Node build ships no gradients and its ESM build cannot be loaded by
 * Node's resolver (extensionless relative imports), so loadTf() registers a tiny
 * resolve hook for @tensorflow/* files before importing register_all_gradients.
 * Gradient and kernel registries live on globalThis, so the ESM copy registers
 * into the same engine as the CommonJS one we import.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readdirSync } from 'node:fs';
import { register } from 'node:module';
import { invalidOption, PipelineError } from '../core/errors.js';

export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

const defaultLog = (line: string) => process.stderr.write(line + '\n');

let gradientsLoaded: Promise<void> | undefined;
/** requested -> backend it resolved to. */
const chosen = new Map<string, BackendName>();

const RESOLVE_HOOK = `export async function resolve(s, c, next) {
  if (c.parentURL && c.parentURL.includes('/@tensorflow/') && /^\\.\\.?\\//.test(s) && !/\\.m?js$/.test(s)) {
    try { return await next(s + '.js', c); } catch { return next(s + '/index.js', c); }
  }
  return next(s, c);
}`;

/** Registers every gradient tfjs-core defines (once). */
export function loadGradients(): Promise<void> {
  gradientsLoaded ??= (async () => {
    try {
      // A bundler (esbuild, for the GPU machine) resolves this statically.
      await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' && (err as NodeJS.ErrnoException).code !== 'ERR_UNSUPPORTED_DIR_IMPORT') throw err;
      register('data:text/javascript,' + encodeURIComponent(RESOLVE_HOOK));
      // The failed load is cached under its URL: retry under another one.
      const url = import.meta.resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js') + '?resolved-by-hook';
      await import(url);
    }
  })();
  return gradientsLoaded;
}

/**
 * Linux without a GPU device node (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg for
 * WSL) has no adapter for Dawn to find, and Dawn's Vulkan probe prints a warning
 * with its build path on stderr from native code, which we cannot silence. So we
 * look for the device nodes first and do not load Dawn at all when there are none.
 * Other platforms (Metal, D3D12) are probed as before.
 */
export function gpuDeviceAbsent(platform = process.platform, dev = '/dev'): boolean {
  if (platform !== 'linux') return false;
  try {
    if (existsSync(`${dev}/dxg`)) return false;
    if (readdirSync(dev).some((n) => /^nvidia\d/.test(n))) return false;
    return !readdirSync(`${dev}/dri`).some((n) => n.startsWith('renderD'));
  } catch {
    return true; // no /dev/dri
  }
}

/** Each probe registers its backend with tfjs and returns a reason when it cannot be used. */
async function tryBackend(name: BackendName): Promise<string | undefined> {
  try {
    switch (name) {
      case 'tensorflow': {
        // Optional dependency, absent on most machines: a variable specifier keeps
        // TypeScript and bundlers from requiring it.
        let loaded = false;
        let lastError = '';
        for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
          try {
            await import(pkg);
            loaded = true;
            break;
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') lastError = `${pkg}: ${(err as Error).message.split('\n')[0]}`;
          }
        }
        if (!loaded) return lastError ? `failed to load ${lastError}` : '@tensorflow/tfjs-node-gpu / tfjs-node not installed (optional dependency)';
        break;
      }
      case 'webgpu': {
        const g = globalThis as { navigator?: { gpu?: unknown } };
        if (!g.navigator?.gpu) {
          if (gpuDeviceAbsent()) return 'no GPU device (no /dev/dri/renderD*, /dev/nvidia*)';
          const webgpu = (await import('webgpu')) as { create: (opts: string[]) => unknown; globals: Record<string, unknown> };
          Object.assign(globalThis, webgpu.globals);
          // Node >= 21 defines a read-only navigator getter: redefine instead of assigning.
          Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator ?? {}), gpu: webgpu.create([]) }, configurable: true, writable: true });
        }
        const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(o?: object): Promise<unknown> } } }).navigator.gpu;
        const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
        if (!adapter) return 'no WebGPU adapter (no GPU or driver)';
        // Only now: the backend registers itself only if navigator.gpu exists at load.
        await import('@tensorflow/tfjs-backend-webgpu');
        break;
      }
      case 'wasm':
        await import('@tensorflow/tfjs-backend-wasm');
        break;
      case 'cpu':
        await import('@tensorflow/tfjs-backend-cpu');
        break;
    }
    if (!tf.findBackendFactory(name)) return 'backend did not register';
    const ok = await tf.setBackend(name);
    if (!ok) return 'backend failed to initialise';
    await tf.ready();
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

/**
 * Selects and initialises a backend: 'auto' (default) tries tensorflow > webgpu >
 * wasm > cpu; a named one that is unavailable falls back to the next in that order.
 * Resolves to the backend in use. Logs one line saying what was chosen and why.
 */
export async function selectBackend(requested: string = 'auto', log: (line: string) => void = defaultLog): Promise<BackendName> {
  if (requested !== 'auto' && !(BACKENDS as readonly string[]).includes(requested)) {
    throw invalidOption('backend', `must be one of auto, ${BACKENDS.join(', ')}`, requested);
  }
  // tfjs's "install the node backend" banner and debug checks: not for a library.
  tf.enableProdMode();
  await loadGradients();
  const current = tf.getBackend() as string | undefined;
  if (requested !== 'auto' && current === requested) return requested as BackendName;
  // Asked before and still in effect: no second probe, no second log line.
  const earlier = chosen.get(requested);
  if (earlier !== undefined && earlier === current) return earlier;
  const start = requested === 'auto' ? 0 : BACKENDS.indexOf(requested as BackendName);
  const candidates = BACKENDS.slice(start);
  const failures: string[] = [];
  for (const name of candidates) {
    const why = await tryBackend(name);
    if (why === undefined) {
      chosen.set(requested, name);
      if (requested === 'auto') log(`backend: ${name} (auto${failures.length ? `; unavailable: ${failures.join('; ')}` : ''})`);
      else if (name !== requested) {
        const others = failures.slice(1).join('; ');
        log(`backend: ${requested} unavailable (${failures[0].replace(/^\w+: /, '')}), falling back to ${name}${others ? ` (also unavailable: ${others})` : ''}`);
      }
      else log(`backend: ${name}`);
      return name;
    }
    failures.push(`${name}: ${why}`);
  }
  throw new PipelineError('ERR_NO_BACKEND', `No TensorFlow.js backend could be initialised: ${failures.join('; ')}`);
}
