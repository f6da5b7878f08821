// The CPU device: float32 TypeScript kernels (kernels/<op>/cpu.ts) on typed arrays, with the two
// heavy ops — the projections (row ranges) and the selective scan (channel ranges) — split across
// worker threads. Tensors live in SharedArrayBuffers so the threads share them without copies.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { gemmABt } from '../../../kernels/linear/cpu.js';
import { addRmsNorm } from '../../../kernels/rms-norm/cpu.js';
import { conv1d } from '../../../kernels/conv1d/cpu.js';
import { selectiveScan } from '../../../kernels/selective-scan/cpu.js';
import { DeviceError } from '../../errors.js';
import type { Backend, DTensor } from '../types.js';
import { runTask, type WorkerTask } from './tasks.js';

class CpuTensor implements DTensor {
  constructor(readonly shape: readonly number[], public data: Float32Array) {}
}

function size(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

function alloc(shape: readonly number[], shared: boolean): CpuTensor {
  const n = size(shape);
  const data = shared ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n);
  return new CpuTensor(shape, data);
}

function t(x: DTensor): CpuTensor {
  if (!(x instanceof CpuTensor)) throw new DeviceError('internal: a tensor from another device was passed to the cpu backend');
  if (x.data.length === 0 && size(x.shape) > 0) throw new DeviceError('internal: tensor used after free()');
  return x;
}

/** Splits [0, n) into `parts` contiguous ranges, the first ones one larger. */
function split(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  let at = 0;
  for (let i = 0; i < parts; i++) {
    const len = Math.floor(n / parts) + (i < n % parts ? 1 : 0);
    out.push([at, at + len]);
    at += len;
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

const kernels = { gemmABt, selectiveScan };

export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  readonly description: string;
  private readonly shared: boolean;

  constructor(private readonly pool: WorkerPool | null) {
    const threads = (pool?.size ?? 0) + 1;
    this.shared = pool !== null;
    this.description = `TypeScript float32 kernels on ${threads} thread${threads > 1 ? 's' : ''}`;
  }

  /** Runs one task split over the main thread and the workers. */
  private async parallel(make: (range: [number, number]) => WorkerTask, n: number): Promise<void> {
    const parts = split(n, (this.pool?.size ?? 0) + 1);
    const jobs = parts.slice(1).map((r, i) => this.pool!.run(i, make(r)));
    runTask(make(parts[0]), kernels);
    await Promise.all(jobs);
  }

  private alloc(shape: readonly number[]): CpuTensor {
    return alloc(shape, this.shared);
  }

  /** Wraps a kernel's result; copied into shared memory when workers will read it (else postMessage would copy it per task). */
  private adopt(data: Float32Array, shape: readonly number[]): CpuTensor {
    if (!this.shared || data.buffer instanceof SharedArrayBuffer) return new CpuTensor(shape, data);
    const out = this.alloc(shape);
    out.data.set(data);
    return out;
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
    // Memory is garbage-collected; dropping the reference makes later use an error.
    (x as CpuTensor).data = new Float32Array(0);
  }

  async zeros(shape: readonly number[]): Promise<DTensor> {
    return this.alloc(shape);
  }

  async embedding(ids: Uint8Array, E: DTensor): Promise<DTensor> {
    const e = t(E);
    const [V, D] = e.shape;
    const out = this.alloc([ids.length, D]); // (L, D)
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] >= V) throw new RangeError(`embedding: token id ${ids[i]} ≥ vocabulary ${V}`);
      out.data.set(e.data.subarray(ids[i] * D, ids[i] * D + D), i * D);
    }
    return out;
  }

  async addRmsNorm(x: DTensor, residual: DTensor | null, w: DTensor, eps: number): Promise<{ residual: DTensor; normed: DTensor }> {
    const xx = t(x);
    const [L, D] = xx.shape;
    const r = addRmsNorm(xx.data, residual ? t(residual).data : null, t(w).data, L, D, eps);
    return { residual: this.adopt(r.residual, [L, D]), normed: this.adopt(r.y, [L, D]) };
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
    // Small products are not worth a thread hop.
    if (!this.pool || L * OUT * IN < 1 << 16) {
      gemmABt(xx.data, Wr, out.data, L, OUT, IN);
      return out;
    }
    await this.parallel(([t0, t1]) => ({ kind: 'linear', x: xx.data, W: Wr, out: out.data, IN, OUT, t0, t1 }), L);
    return out;
  }

  async conv1dSilu(x: DTensor, w: DTensor, b: DTensor, state: DTensor): Promise<{ y: DTensor; state: DTensor }> {
    const xx = t(x);
    const [L, C] = xx.shape;
    const K = t(w).shape[1];
    const r = conv1d(xx.data, t(w).data, t(b).data, t(state).data, L, C, K, { silu: true });
    return { y: this.adopt(r.y, [L, C]), state: this.adopt(r.state, [K - 1, C]) };
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
    if (!this.pool || L * ED < 1 << 12) selectiveScan(args, { out: out.data, hL: hL.data });
    else await this.parallel(([d0, d1]) => ({ kind: 'scan', ...args, out: out.data, hL: hL.data, d0, d1 }), ED);
    return { y: out, h: hL };
  }

  async crossEntropy(logits: DTensor, targets: Int32Array): Promise<{ nll: Float64Array; correct: number }> {
    const lg = t(logits);
    const [L, V] = lg.shape;
    const nll = new Float64Array(L);
    let correct = 0;
    for (let i = 0; i < L; i++) {
      const y = targets[i];
      if (y < 0) continue;
      const row = lg.data.subarray(i * V, i * V + V);
      let max = -Infinity;
      let arg = 0;
      for (let v = 0; v < V; v++) if (row[v] > max) { max = row[v]; arg = v; }
      let s = 0;
      for (let v = 0; v < V; v++) s += Math.exp(row[v] - max);
      nll[i] = Math.log(s) + max - row[y];
      if (arg === y) correct++;
    }
    return { nll, correct };
  }

  async dispose(): Promise<void> {
    await this.pool?.close();
  }
}

export async function createCpuBackend(threads?: number): Promise<Backend> {
  const n = Math.max(1, Math.floor(threads ?? availableParallelism()));
  const workers: Worker[] = [];
  for (let i = 1; i < n; i++) workers.push(new Worker(new URL('./cpu-worker.js', import.meta.url)));
  return new CpuBackend(n > 1 ? new WorkerPool(workers) : null);
}
