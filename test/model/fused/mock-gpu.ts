/// <reference types="@webgpu/types" />
/**
 * A recording stand-in for a GPUDevice, for running the fused model's host code
 * without a GPU. It executes nothing, but checks what WebGPU would validate and the
 * CPU tests can: every bind group names exactly the bindings its shader declares,
 * uniform bindings get uniform buffers and storage bindings storage ones, writes
 * and copies stay inside their buffers, dispatch sizes are within the limits, and
 * nothing uses a destroyed buffer. Problems are collected in `problems`.
 *
 * Writes land in the buffers' bytes, so a test can see what a dispatch would read:
 * `submitted` lists, per submitted command buffer, the learning rate each update
 * dispatch was bound to (the dense updates' `step.lr` at binding 3, the embedding
 * update's `p.lr`, word 7 of its binding 0), read when the dispatch is encoded (every
 * write for that step is queued before it, none after).
 */
const UNIFORM = 0x40;
const STORAGE = 0x80;
const MAX_WORKGROUPS = 65535;

interface MockBuffer {
  size: number;
  usage: number;
  destroyed: boolean;
  data: ArrayBuffer;
}

export class MockGpu {
  readonly problems: string[] = [];
  dispatches = 0;
  submits = 0;
  readonly shaders: string[] = [];
  readonly submitted: { rates: number[] }[] = [];

  device(): GPUDevice {
    const problem = (p: string) => {
      if (this.problems.length < 20) this.problems.push(p);
    };
    const buffers = new Set<MockBuffer>();
    const live = (b: MockBuffer, what: string) => {
      if (b.destroyed) problem(`${what}: uses a destroyed buffer`);
    };
    const self = this;
    const dev = {
      limits: { maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 31, maxComputeWorkgroupsPerDimension: MAX_WORKGROUPS },
      createBuffer({ size, usage }: { size: number; usage: number }) {
        if (size % 4 !== 0) problem(`buffer size ${size} is not a multiple of 4`);
        const b: MockBuffer & Record<string, unknown> = {
          size,
          usage,
          destroyed: false,
          data: new ArrayBuffer(size),
          destroy() {
            b.destroyed = true;
          },
          async mapAsync() {},
          getMappedRange: (off = 0, len?: number) => b.data.slice(off, off + (len ?? size - off)),
          unmap() {},
        };
        buffers.add(b);
        return b;
      },
      createShaderModule({ code }: { code: string }) {
        self.shaders.push(code);
        return { code, getCompilationInfo: async () => ({ messages: [] }) };
      },
      createComputePipeline({ compute }: { compute: { module: { code: string } } }) {
        const code = compute.module.code;
        const declared = new Map<number, 'uniform' | 'storage'>();
        for (const m of code.matchAll(/@binding\((\d+)\)\s*var<(uniform|storage)/g)) declared.set(Number(m[1]), m[2] as 'uniform' | 'storage');
        return { code, getBindGroupLayout: () => ({ declared }) };
      },
      createBindGroup({ layout, entries }: { layout: { declared: Map<number, string> }; entries: { binding: number; resource: { buffer: MockBuffer } }[] }) {
        const given = entries.map((e) => e.binding).sort((a, b) => a - b);
        const want = [...layout.declared.keys()].sort((a, b) => a - b);
        if (given.join() !== want.join()) problem(`bind group has bindings [${given}], the shader declares [${want}]`);
        for (const e of entries) {
          const kind = layout.declared.get(e.binding);
          const b = e.resource.buffer;
          live(b, `binding ${e.binding}`);
          if (kind === 'uniform' && !(b.usage & UNIFORM)) problem(`binding ${e.binding} is uniform, the buffer is not`);
          if (kind === 'storage' && !(b.usage & STORAGE)) problem(`binding ${e.binding} is storage, the buffer is not`);
        }
        return { entries };
      },
      createCommandEncoder() {
        const rates: number[] = [];
        return {
          beginComputePass() {
            let bound: { binding: number; resource: { buffer: MockBuffer } }[] | undefined;
            let code = '';
            const f32 = (binding: number, word: number) => new Float32Array(bound!.find((e) => e.binding === binding)!.resource.buffer.data)[word];
            return {
              setPipeline(pipe: { code: string }) {
                code = pipe.code;
              },
              setBindGroup(_i: number, g: { entries: { binding: number; resource: { buffer: MockBuffer } }[] }) {
                for (const e of g.entries) live(e.resource.buffer, 'dispatch');
                bound = g.entries;
              },
              dispatchWorkgroups(x: number, y = 1, z = 1) {
                if (!bound) problem('dispatch without a bind group');
                else if (code.includes('step.lr')) rates.push(f32(3, 0));
                else if (code.includes('p.lr')) rates.push(f32(0, 7));
                for (const n of [x, y, z]) if (!(Number.isInteger(n) && n >= 1 && n <= MAX_WORKGROUPS)) problem(`dispatch (${x}, ${y}, ${z}) outside 1..${MAX_WORKGROUPS}`);
                self.dispatches++;
              },
              end() {},
            };
          },
          copyBufferToBuffer(src: MockBuffer, so: number, dst: MockBuffer, d0: number, n: number) {
            live(src, 'copy source');
            live(dst, 'copy destination');
            if (so + n > src.size || d0 + n > dst.size) problem(`copy of ${n} bytes outside its buffers (${src.size}, ${dst.size})`);
          },
          finish: () => ({ rates }),
        };
      },
      queue: {
        writeBuffer(b: MockBuffer, off: number, data: ArrayBufferView & { BYTES_PER_ELEMENT?: number; length?: number }, dataOff = 0, size?: number) {
          live(b, 'writeBuffer');
          const per = data.BYTES_PER_ELEMENT ?? 1;
          const bytes = (size ?? (data.length ?? data.byteLength) - dataOff) * per;
          if (off + bytes > b.size) problem(`writeBuffer of ${bytes} bytes at ${off} into a buffer of ${b.size}`);
          if (bytes % 4 !== 0) problem(`writeBuffer of ${bytes} bytes (not a multiple of 4)`);
          else if (off + bytes <= b.size) new Uint8Array(b.data, off, bytes).set(new Uint8Array(data.buffer, data.byteOffset + dataOff * per, bytes));
        },
        submit(cmds: { rates?: number[] }[]) {
          self.submits++;
          for (const c of cmds) if (c.rates?.length) self.submitted.push({ rates: c.rates });
        },
        onSubmittedWorkDone: async () => {},
      },
    };
    return dev as unknown as GPUDevice;
  }
}
