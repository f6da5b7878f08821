// Runtime for the WebAssembly SIMD kernels (kernels/linear/gemm.as, kernels/selective-scan/scan.as,
// kernels/conv1d/conv.as; shared vector math in kernels/simd-math.as; built by scripts/build-wasm.mjs
// into dist/kernels/<op>/*.wasm): feature detection, loading the compiled modules, and the shared
// memory the kernels work in with a small allocator for it.
// Not a kernel and not a device backend: src/backend/cpu/ decides when to use these.
//
// Why a shared memory with an allocator: the kernels read their operands from wasm linear memory.
// Allocating every tensor inside ONE WebAssembly.Memory({ shared: true }) lets each worker thread's
// instance read/write the same tensors with no copy in or out (docs/decisions/cpu-simd.md has the
// copy costs this avoids). A Float32Array view on that memory is a tensor; its byteOffset is the
// pointer the kernels take. Only the thread that owns a WasmHeap allocates; others just compute.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Must match --maximumMemory in scripts/build-wasm.mjs: 65536 pages of 64 KiB = 4 GiB (wasm32's limit). */
export const MAX_PAGES = 65536;
const PAGE = 65536;
/** The first page is never handed out: pointer 0 means "absent" (e.g. no bias) to the kernels. */
const RESERVED = PAGE;
/** Blocks are multiples of 64 bytes (a cache line, and 16-byte v128 alignment). */
const ALIGN = 64;

// (module (memory 1 1 shared) (func (result v128) v128.const i32x4 0 0 0 0)): validates only where
// both SIMD and threads (shared memory) are supported.
const PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00,
  0x05, 0x04, 0x01, 0x03, 0x01, 0x01, 0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b,
]);

const WASM_FILES = {
  gemm: new URL('./linear/gemm.wasm', import.meta.url),
  scan: new URL('./selective-scan/scan.wasm', import.meta.url),
  conv: new URL('./conv1d/conv.wasm', import.meta.url),
} as const;

/** Whether this runtime can run the SIMD kernels: WebAssembly SIMD, shared memory, and the built .wasm files. */
export function wasmSimdStatus(): { ok: boolean; reason?: string } {
  if (typeof WebAssembly !== 'object' || typeof SharedArrayBuffer !== 'function') return { ok: false, reason: 'no WebAssembly or SharedArrayBuffer' };
  try {
    if (!WebAssembly.validate(PROBE)) return { ok: false, reason: 'WebAssembly SIMD or shared memory not supported by this runtime' };
  } catch (err) {
    return { ok: false, reason: `WebAssembly probe failed: ${(err as Error).message}` };
  }
  for (const f of Object.values(WASM_FILES)) {
    if (!existsSync(f)) return { ok: false, reason: `${fileURLToPath(f)} is missing: run npm run build` };
  }
  return { ok: true };
}

export type WasmKernelName = keyof typeof WASM_FILES;

/** Compiles one kernel module (synchronously: a few KiB). Modules can be posted to worker threads. */
export function compileWasmKernel(name: WasmKernelName): WebAssembly.Module {
  return new WebAssembly.Module(readFileSync(WASM_FILES[name]));
}

/** Instantiates a compiled kernel module on `memory`; returns its exports. */
export function instantiateWasmKernel(module: WebAssembly.Module, memory: WebAssembly.Memory): WebAssembly.Exports {
  return new WebAssembly.Instance(module, { env: { memory } }).exports;
}

/**
 * Float32 tensors inside one shared WebAssembly.Memory. alloc/free keep exact-size free lists (the
 * model allocates the same few shapes every layer, so blocks are reused as they are) over a bump
 * pointer that grows the memory; freed blocks are not coalesced. Not thread-safe: one owner.
 */
export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  private top = RESERVED;
  private readonly bins = new Map<number, number[]>();
  private live = 0;

  constructor(initialBytes = 16 * 2 ** 20) {
    this.memory = new WebAssembly.Memory({ initial: Math.ceil(initialBytes / PAGE), maximum: MAX_PAGES, shared: true });
  }

  /** n floats, 64-byte aligned; contents are whatever the block held before (not zeroed). */
  alloc(n: number): Float32Array {
    if (n === 0) return new Float32Array(this.memory.buffer, RESERVED, 0);
    const bytes = Math.ceil((n * 4) / ALIGN) * ALIGN;
    let ptr = this.bins.get(bytes)?.pop();
    if (ptr === undefined) {
      ptr = this.top;
      const end = ptr + bytes;
      const have = this.memory.buffer.byteLength;
      if (end > have) {
        // Grow by at least half the current size so that a growing workload grows rarely.
        const want = Math.min(MAX_PAGES, Math.max(Math.ceil(end / PAGE), Math.ceil((have * 1.5) / PAGE)));
        if (end > MAX_PAGES * PAGE) throw new RangeError(`wasm heap: ${n} floats do not fit in the 4 GiB of wasm32 memory (${this.live} bytes in use)`);
        this.memory.grow(want - have / PAGE);
      }
      this.top = end;
    }
    this.live += bytes;
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  /** Returns a block from alloc (the whole view, as returned) to its free list. */
  free(view: Float32Array): void {
    if (view.length === 0) return;
    this.release(view.byteOffset, view.length);
  }

  /** free() by pointer and length, for finalizers that no longer hold the view. */
  release(ptr: number, n: number): void {
    const bytes = Math.ceil((n * 4) / ALIGN) * ALIGN;
    let bin = this.bins.get(bytes);
    if (!bin) this.bins.set(bytes, (bin = []));
    bin.push(ptr);
    this.live -= bytes;
  }

  /** bytes in live blocks, and bytes the memory holds */
  stats(): { live: number; reserved: number } {
    return { live: this.live, reserved: this.memory.buffer.byteLength };
  }
}
