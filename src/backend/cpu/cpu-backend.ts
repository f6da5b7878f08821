// The CPU device. The heavy ops — the projections (gemmABt, split by rows), the selective scan (split
// by channels) and the causal conv + SiLU (split by tokens) — run as WebAssembly SIMD kernels
// (kernels/linear/gemm.as, kernels/selective-scan/scan.as, kernels/conv1d/conv.as) on the main thread
// and worker threads; add + RMSNorm runs its TypeScript kernel split by rows; the rest is on the main thread.
// Tensors live in ONE shared WebAssembly.Memory (a WasmHeap: free lists over a bump pointer) that
// every thread's wasm instance sees, so nothing is copied between threads or into wasm
// (docs/decisions/cpu-simd.md). Where WebAssembly SIMD or the built .wasm files are missing, the
// TypeScript kernels run on SharedArrayBuffer tensors instead (same split, same results ±1e-6).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { convStateAfter } from '../../../kernels/conv1d/wasm.js';
import { gemmScratchFloats } from '../../../kernels/linear/wasm.js';
import { WasmHeap, compileWasmKernel, wasmSimdStatus } from '../../../kernels/wasm-simd.js';
import { crossEntropy } from '../../../kernels/cross-entropy/cpu.js';
import { embedding } from '../../../kernels/embedding/cpu.js';
import { DeviceError } from '../../errors.js';
import type { Backend, DTensor } from '../types.js';
import { type CpuKernels, type WasmSetup, type WorkerTask, runTask, tsKernels, wasmKernels } from './tasks.js';

class CpuTensor implements DTensor {
  constructor(readonly shape: readonly number[], public data: Float32Array) {}
}

function size(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}


function t(x: DTensor): CpuTensor {
  if (!(x instanceof CpuTensor)) throw new DeviceError('internal: a tensor from another device was passed to the cpu backend');
  if (x.data.length === 0 && size(x.shape) > 0) throw new DeviceError('internal: tensor used after free()');
  return x;
}

/**
 * Splits [0, n) into `parts` contiguous ranges of whole `align`-sized blocks (the last range takes
 * the remainder), the first ones one block larger: the SIMD kernels work 4 rows / 4 channels at a time.
 */
function split(n: number, parts: number, align = 1): [number, number][] {
  const blocks = Math.floor(n / align);
  const out: [number, number][] = [];
  let at = 0;
  for (let i = 0; i < parts; i++) {
    const len = (Math.floor(blocks / parts) + (i < blocks % parts ? 1 : 0)) * align;
    const end = i === parts - 1 ? n : at + len;
    out.push([at, end]);
    at = end;
  }
  return out;
}

class WorkerPool {
  private nextId = 0;
  private pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (m: { id: number; error?: string }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) p?.reject(new DeviceError(`cpu worker failed: ${m.error}`));
        else p?.resolve();
      });
      w.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(new DeviceError(`cpu worker crashed: ${err.message}`));
        this.pending.clear();
      });
    }
  }
  get size(): number {
    return this.workers.length;
  }
  run(i: number, task: WorkerTask): Promise<void> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[i].postMessage({ id, task });
    });
  }
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Where tensors live: inside the wasm heap (SIMD kernels), or in SharedArrayBuffers / plain arrays (fallback). */
class Memory {
  /** returns blocks of tensors that were dropped without free() (a safety net, not the normal path) */
  private readonly finalizer: FinalizationRegistry<{ ptr: number; n: number }> | null;
  constructor(readonly heap: WasmHeap | null, private readonly shared: boolean) {
    this.finalizer = heap ? new FinalizationRegistry(({ ptr, n }) => heap.release(ptr, n)) : null;
  }
  alloc(shape: readonly number[]): CpuTensor {
    const n = size(shape);
    if (this.heap) {
      const t = new CpuTensor(shape, this.heap.alloc(n));
      if (n > 0) this.finalizer!.register(t, { ptr: t.data.byteOffset, n }, t);
      return t;
    }
    return new CpuTensor(shape, this.shared ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n));
  }
  free(t: CpuTensor): void {
    if (this.heap && t.data.length > 0) {
      this.finalizer!.unregister(t);
      this.heap.free(t.data);
    }
    t.data = new Float32Array(0);
  }
  /** one scratch block per thread for the wasm gemm, grown as needed */
  private scratch: Float32Array[] = [];
  scratchFor(thread: number, floats: number): Float32Array | null {
    if (!this.heap) return null;
    let s = this.scratch[thread];
    if (!s || s.length < floats) {
      if (s) this.heap.free(s);
      this.scratch[thread] = s = this.heap.alloc(floats);
    }
    return s;
  }
}

export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  readonly description: string;
  private readonly threads: number;
  /** below these sizes an op runs on the main thread alone: a thread hop costs ~0.05–0.1 ms */
  private readonly minParallel: { linear: number; scan: number; norm: number };

  constructor(
    private readonly pool: WorkerPool | null,
    private readonly kernels: CpuKernels,
    private readonly mem: Memory,
  ) {
    this.threads = (pool?.size ?? 0) + 1;
    const on = `on ${this.threads} thread${this.threads > 1 ? 's' : ''}`;
    this.description = kernels.simd ? `WebAssembly SIMD kernels ${on}` : `TypeScript float32 kernels ${on}`;
    // multiply-adds (linear), state updates (scan), elements (norm) below which splitting does not pay
    this.minParallel = kernels.simd ? { linear: 1 << 20, scan: 1 << 17, norm: 1 << 16 } : { linear: 1 << 16, scan: 1 << 16, norm: 1 << 16 };
  }

  /** Runs one task split over the main thread and the workers; `make` gets the range and the thread index. */
  private async parallel(make: (range: [number, number], thread: number) => WorkerTask, n: number, align = 1): Promise<void> {
    const parts = split(n, this.threads, align);
    const jobs = parts.slice(1).map((r, i) => this.pool!.run(i, make(r, i + 1)));
    runTask(make(parts[0], 0), this.kernels);
    await Promise.all(jobs);
  }

  private alloc(shape: readonly number[]): CpuTensor {
    return this.mem.alloc(shape);
  }

  async upload(data: Float32Array, shape: readonly number[]): Promise<DTensor> {
    if (data.length !== size(shape)) throw new RangeError(`upload: ${data.length} values for shape (${shape.join(', ')})`);
    const out = this.alloc(shape);
    out.data.set(data);
    return out;
  }

  async read(x: DTensor): Promise<Float32Array> {
    return t(x).data.slice();
  }

  free(x: DTensor): void {
    // Returns the block to the heap (wasm) or drops the reference (fallback); later use is an error.
    if (x instanceof CpuTensor) this.mem.free(x);
  }

  async zeros(shape: readonly number[]): Promise<DTensor> {
    const out = this.alloc(shape);
    out.data.fill(0); // heap blocks are reused, not zeroed
    return out;
  }

  async embedding(ids: Uint8Array, E: DTensor): Promise<DTensor> {
    const e = t(E);
    const [V, D] = e.shape;
    const out = this.alloc([ids.length, D]); // (L, D)
    embedding(ids, e.data, V, D, out.data);
    return out;
  }

  async addRmsNorm(x: DTensor, residual: DTensor | null, w: DTensor, eps: number): Promise<{ residual: DTensor; normed: DTensor }> {
    const xx = t(x);
    const [L, D] = xx.shape;
    const res = this.alloc([L, D]); // (L, D)
    const normed = this.alloc([L, D]); // (L, D)
    const task = (t0: number, t1: number): WorkerTask => ({
      kind: 'norm', x: xx.data, residual: residual ? t(residual).data : null, w: t(w).data, resOut: res.data, normed: normed.data, D, eps, t0, t1,
    });
    if (!this.pool || L * D < this.minParallel.norm) runTask(task(0, L), this.kernels);
    else await this.parallel(([t0, t1]) => task(t0, t1), L);
    return { residual: res, normed };
  }

  async linear(x: DTensor, W: DTensor, rows?: readonly [number, number]): Promise<DTensor> {
    const xx = t(x);
    const ww = t(W);
    const [L, IN] = xx.shape;
    const [r0, r1] = rows ?? [0, ww.shape[0]];
    if (ww.shape[1] !== IN) throw new RangeError(`linear: x has ${IN} features, W expects ${ww.shape[1]}`);
    const OUT = r1 - r0;
    const out = this.alloc([L, OUT]); // (L, OUT)
    const Wr = ww.data.subarray(r0 * IN, r1 * IN);
    const scratchFloats = this.kernels.simd ? gemmScratchFloats(OUT, IN) : 0;
    if (!this.pool || L * OUT * IN < this.minParallel.linear) {
      runTask({ kind: 'linear', x: xx.data, W: Wr, out: out.data, IN, OUT, t0: 0, t1: L, scratch: this.mem.scratchFor(0, scratchFloats) }, this.kernels);
      return out;
    }
    await this.parallel(([t0, t1], th) => ({ kind: 'linear', x: xx.data, W: Wr, out: out.data, IN, OUT, t0, t1, scratch: this.mem.scratchFor(th, scratchFloats) }), L, 4);
    return out;
  }

  async conv1dSilu(x: DTensor, w: DTensor, b: DTensor, state: DTensor): Promise<{ y: DTensor; state: DTensor }> {
    const xx = t(x);
    const [L, C] = xx.shape;
    const K = t(w).shape[1];
    const y = this.alloc([L, C]); // (L, C)
    const st = this.alloc([K - 1, C]); // (K-1, C)
    const [ww, bb, s0] = [t(w).data, t(b).data, t(state).data];
    if (!this.pool || L < 256) runTask({ kind: 'conv', x: xx.data, w: ww, b: bb, state: s0, y: y.data, C, K, t0: 0, t1: L }, this.kernels);
    else await this.parallel(([t0, t1]) => ({ kind: 'conv', x: xx.data, w: ww, b: bb, state: s0, y: y.data, C, K, t0, t1 }), L, Math.max(4, K));
    convStateAfter(xx.data, s0, L, C, K, st.data);
    return { y, state: st };
  }

  async selectiveScan(a: { u: DTensor; deltaRaw: DTensor; A: DTensor; B: DTensor; C: DTensor; D: DTensor; z: DTensor; deltaBias: DTensor; h: DTensor }): Promise<{ y: DTensor; h: DTensor }> {
    const u = t(a.u);
    const [L, ED] = u.shape;
    const N = t(a.A).shape[1];
    const out = this.alloc([L, ED]); // (L, ED)
    const hL = this.alloc([ED, N]); // (ED, N)
    const args = {
      L, ED, N, u: u.data, deltaRaw: t(a.deltaRaw).data, A: t(a.A).data, B: t(a.B).data, C: t(a.C).data,
      D: t(a.D).data, z: t(a.z).data, deltaBias: t(a.deltaBias).data, h0: t(a.h).data,
    };
    if (!this.pool || L * ED * N < this.minParallel.scan) runTask({ kind: 'scan', ...args, out: out.data, hL: hL.data, d0: 0, d1: ED }, this.kernels);
    else await this.parallel(([d0, d1]) => ({ kind: 'scan', ...args, out: out.data, hL: hL.data, d0, d1 }), ED, 4);
    return { y: out, h: hL };
  }

  async crossEntropy(logits: DTensor, targets: Int32Array): Promise<{ nll: Float64Array; correct: number }> {
    const lg = t(logits);
    const [L, V] = lg.shape;
    const r = crossEntropy(lg.data, targets, L, V);
    return { nll: r.nll, correct: r.correct };
  }

  async dispose(): Promise<void> {
    await this.pool?.close();
  }
}

export interface CpuBackendOptions {
  /** false: the TypeScript kernels even where WebAssembly SIMD works (for comparisons) */
  simd?: boolean;
}

export async function createCpuBackend(threads?: number, opts: CpuBackendOptions = {}): Promise<Backend> {
  const n = Math.max(1, Math.floor(threads ?? availableParallelism()));
  let setup: WasmSetup | null = null;
  if (opts.simd !== false && wasmSimdStatus().ok) {
    const heap = new WasmHeap();
    setup = { memory: heap.memory, gemm: compileWasmKernel('gemm'), scan: compileWasmKernel('scan'), conv: compileWasmKernel('conv') };
    const mem = new Memory(heap, true);
    return new CpuBackend(startWorkers(n, setup), wasmKernels(setup), mem);
  }
  return new CpuBackend(startWorkers(n, null), tsKernels, new Memory(null, n > 1));
}

function startWorkers(n: number, wasm: WasmSetup | null): WorkerPool | null {
  if (n <= 1) return null;
  const workers: Worker[] = [];
  for (let i = 1; i < n; i++) workers.push(new Worker(new URL('./cpu-worker.js', import.meta.url), { workerData: wasm ? { wasm } : {} }));
  return new WorkerPool(workers);
}
