/// <reference types="@webgpu/types" />
/**
 * Small helpers over a GPUDevice for the fused step: buffers, uniforms, pipelines
 * (compiled once per device and shader text), bind groups, read-back, and the
 * shader compiler's messages (WGSL errors are otherwise only logged by Dawn).
 */

// GPUBufferUsage / GPUMapMode values (the globals exist only once `webgpu` is loaded).
export const MAP_READ = 0x1;
export const COPY_SRC = 0x4;
export const COPY_DST = 0x8;
export const UNIFORM = 0x40;
export const STORAGE = 0x80;
const MAP_MODE_READ = 0x1;

export type Binding = [number, GPUBuffer];

const pipelineCache = new WeakMap<GPUDevice, Map<string, { pipe: GPUComputePipeline; module: GPUShaderModule }>>();

export class Gpu {
  readonly device: GPUDevice;
  /** Largest storage binding and buffer (bytes), the smaller of the two limits. */
  readonly maxBinding: number;
  readonly maxWorkgroups: number;

  constructor(device: GPUDevice) {
    this.device = device;
    this.maxBinding = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    this.maxWorkgroups = device.limits.maxComputeWorkgroupsPerDimension;
  }

  /** A storage buffer of `words` 32-bit words, zero-filled, readable back. */
  buffer(words: number): GPUBuffer {
    const bytes = Math.max(16, Math.ceil(words) * 4);
    if (bytes > this.maxBinding) throw new Error(`a buffer of ${bytes} bytes exceeds this GPU's largest storage binding (${this.maxBinding} bytes)`);
    return this.device.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC | COPY_DST });
  }

  upload(a: Float32Array | Uint32Array): GPUBuffer {
    const b = this.buffer(a.length);
    if (a.length) this.device.queue.writeBuffer(b, 0, a);
    return b;
  }

  uniform(words: number): GPUBuffer {
    return this.device.createBuffer({ size: Math.max(16, Math.ceil(words / 4) * 16), usage: UNIFORM | COPY_DST });
  }

  /** A uniform buffer holding `words` (u32; floats already bit-cast). */
  uniformOf(words: Uint32Array): GPUBuffer {
    const b = this.uniform(words.length);
    this.device.queue.writeBuffer(b, 0, words);
    return b;
  }

  pipeline(key: string, source: () => string): GPUComputePipeline {
    let cache = pipelineCache.get(this.device);
    if (!cache) pipelineCache.set(this.device, (cache = new Map()));
    let hit = cache.get(key);
    if (!hit) {
      const module = this.device.createShaderModule({ code: source(), label: key });
      const pipe = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      cache.set(key, (hit = { pipe, module }));
    }
    return hit.pipe;
  }

  bind(pipe: GPUComputePipeline, entries: Binding[]): GPUBindGroup {
    return this.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: entries.map(([binding, buffer]) => ({ binding, resource: { buffer } })) });
  }

  /** The compiler's errors and warnings for every shader built on this device so far. */
  async compileMessages(): Promise<string[]> {
    const out: string[] = [];
    for (const [key, { module }] of pipelineCache.get(this.device) ?? []) {
      const info = await module.getCompilationInfo();
      for (const m of info.messages) if (m.type !== 'info') out.push(`${key}:${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`);
    }
    return out;
  }

  /** The first `floats` values of a buffer (waits for the queue). */
  async read(src: GPUBuffer, floats: number): Promise<Float32Array> {
    const bytes = Math.ceil((floats * 4) / 4) * 4;
    const staging = this.device.createBuffer({ size: Math.max(16, bytes), usage: MAP_READ | COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(src, 0, staging, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(MAP_MODE_READ);
    const out = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
    staging.unmap();
    staging.destroy();
    return out;
  }
}
