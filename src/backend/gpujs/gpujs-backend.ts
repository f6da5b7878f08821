// The gpu.js device, in two modes: 'webgpu' (dawn.node; tensors are device-resident gpu.js handles,
// kernels run with `pipeline: true, immutable: true` so every result owns its buffer until free())
// and 'webasm' (gpu.js's WebAssembly backend; there is no device memory, `pipeline` results are
// fresh typed arrays, so tensors are flat Float32Arrays). Both run the same kernels/<op>/gpujs.ts
// factories, built once per distinct shape and cached; only the tensor storage differs.
//
// gpu.js traps handled here (../shared/notes/gpujs-webgpu.md): argument types lock at the first call
// (every tensor argument is always a handle — weights and zeros are uploaded through a copy kernel —
// and ids/targets are always Float32Arrays); pipeline calls resolve at submit, so the queue is
// drained every QUEUE_DRAIN kernel calls; a result of the scan's device path is padded to whole
// chunks (reads take the first L·ED values). On webgpu it installs the training engine's buffer pool,
// bind-group cache and submit batcher on its device.
import { createConv1dKernels } from '../../../kernels/conv1d/gpujs.js';
import { createCrossEntropyKernels } from '../../../kernels/cross-entropy/gpujs.js';
import { createEmbeddingKernels } from '../../../kernels/embedding/gpujs.js';
import { kernelSettings, laneStrides, laneView, scatterFloats, scatterHelpers, scatterView, type GpuHandle, type GpuJsLike, type KernelOptions } from '../../../kernels/gpujs-types.js';
import { createLinearKernels, linearFwdTRows4, registerTile, tileGemmSource } from '../../../kernels/linear/gpujs.js';
import { createRmsNormKernels } from '../../../kernels/rms-norm/gpujs.js';
import { createSelectiveScanKernels, toFlat } from '../../../kernels/selective-scan/gpujs.js';
import { DeviceError } from '../../errors.js';
import { getGpu, probeWebGpu, type GpuJs } from '../gpu-runtime.js';
import { installBindGroupCache } from './bind-group-cache.js';
import { installBufferPool, type BufferPool } from './buffer-pool.js';
import { QueueGate } from './queue-gate.js';
import { installSubmitBatcher, type SubmitBatcher } from './submit-batcher.js';
import type { Backend, DTensor } from '../types.js';
import { createCopyKernel, createLinearRowsKernel, createPackBCKernel, createTransposeKernel } from './local-kernels.js';

type Store = GpuHandle | Float32Array;

/** kernel calls submitted between waits for the queue (queue-gate.ts: no back-pressure otherwise) */
const QUEUE_DRAIN = 256;

class GpuJsTensor implements DTensor {
  constructor(readonly shape: readonly number[], public store: Store | null) {}
}

function size(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

const isHandle = (x: unknown): x is GpuHandle => !!x && !ArrayBuffer.isView(x) && typeof (x as GpuHandle).toArray === 'function';

/** A webasm result (flat, or rows that are subarrays of one fresh buffer) as one flat Float32Array. */
async function flatArray(r: unknown, n: number): Promise<Float32Array> {
  const v = await r;
  if (v instanceof Float32Array) return v.length === n ? v : v.subarray(0, n);
  let leaf: unknown = v;
  while (Array.isArray(leaf)) leaf = leaf[0];
  if (leaf instanceof Float32Array && leaf.byteOffset === 0 && leaf.buffer.byteLength >= n * 4) {
    return new Float32Array(leaf.buffer, 0, n);
  }
  return toFlat(v, n);
}

export class GpuJsBackend implements Backend {
  readonly name: 'webgpu' | 'wasm';
  private readonly resident: boolean;
  private readonly kernels = new Map<string, any>();
  private readonly created: any[] = [];
  private readonly gpu: GpuJsLike;
  private readonly opts: KernelOptions = { pipeline: true, immutable: true };
  private device: { queue: { onSubmittedWorkDone(): Promise<void> } } | null = null;
  private readonly gate = new QueueGate(QUEUE_DRAIN);
  private pool: BufferPool | null = null;
  /** device-resident weights' transposes (linear), freed with the weight */
  private readonly transposes = new Map<GpuJsTensor, GpuJsTensor>();
  private batcher: SubmitBatcher | null = null;

  constructor(
    readonly mode: 'webgpu' | 'webasm',
    raw: GpuJs,
    readonly description: string,
    private readonly maxBindingBytes: number,
  ) {
    this.name = mode === 'webgpu' ? 'webgpu' : 'wasm';
    this.resident = mode === 'webgpu';
    // Every kernel goes through here, so dispose() can destroy them. Not `asyncMode` in webasm
    // mode: gpu.js then starts a worker pool per kernel; on 2 cores the first L=257 forward of a
    // small model took 6–8 s instead of 0.4 s, and L=4096 ran no faster.
    const created = this.created;
    this.gpu = {
      mode: raw.mode,
      createKernel(fn: Function, settings: Record<string, unknown> = {}) {
        const k = raw.createKernel(fn, settings);
        created.push(k);
        return k;
      },
    };
  }

  /** A cached kernel (or kernel set) for one op and shape. */
  private cached<T>(key: string, make: () => T): T {
    let k = this.kernels.get(key) as T | undefined;
    if (k === undefined) {
      k = make();
      this.kernels.set(key, k);
    }
    return k;
  }

  private t(x: DTensor): Store {
    if (!(x instanceof GpuJsTensor)) throw new DeviceError(`internal: a tensor from another device was passed to the ${this.name} backend`);
    if (x.store === null) throw new DeviceError('internal: tensor used after free()');
    return x.store;
  }

  /** storage length (a padded scan output is longer than its shape) */
  private len(x: DTensor): number {
    const s = this.t(x);
    return isHandle(s) ? size(s.output) : s.length;
  }

  /** Wraps a kernel result: a handle in webgpu mode, a flat array in webasm mode. */
  private async wrap(r: unknown, shape: readonly number[]): Promise<GpuJsTensor> {
    const v = await r;
    if (this.resident) {
      if (!isHandle(v)) throw new DeviceError('internal: a webgpu pipeline kernel returned no device handle');
      if (!this.device) {
        // the training engine's device plumbing (src/backend/gpujs/): recycled output buffers, cached
        // bind groups, batched submits recorded into shared passes; installed once per device
        const device = (v as unknown as { context: { device: NonNullable<GpuJsBackend['device']> } }).context.device;
        this.device = device;
        this.pool = installBufferPool(device as unknown as Parameters<typeof installBufferPool>[0]);
        installBindGroupCache(device as unknown as Parameters<typeof installBindGroupCache>[0]);
        this.batcher = installSubmitBatcher(device as unknown as Parameters<typeof installSubmitBatcher>[0]);
      }
      return new GpuJsTensor(shape, v);
    }
    return new GpuJsTensor(shape, await flatArray(v, size(shape)));
  }

  /** Counts submitted kernel calls and waits for the queue now and then (webgpu has no back-pressure). */
  private async submitted(calls: number): Promise<void> {
    if (!this.resident) return;
    if (this.batcher) this.batcher.sharePasses = true; // per call: the training engine may share the device
    await this.gate.counted(calls, this.device);
  }

  async upload(data: Float32Array, shape: readonly number[]): Promise<DTensor> {
    const n = size(shape);
    if (data.length !== n) throw new RangeError(`upload: ${data.length} values for shape (${shape.join(', ')})`);
    if (!this.resident) return new GpuJsTensor(shape, data.slice());
    const copy = this.cached(`copy ${n}`, () => createCopyKernel(this.gpu, n, this.opts));
    const out = await this.wrap(copy(data), shape);
    await this.submitted(1);
    return out;
  }

  async read(x: DTensor): Promise<Float32Array> {
    const s = this.t(x);
    const n = size(x.shape);
    if (isHandle(s)) return toFlat(s, n);
    return s.slice(0, n);
  }

  free(x: DTensor): void {
    const s = this.t(x);
    if (isHandle(s)) s.delete();
    (x as GpuJsTensor).store = null;
    const wt = this.transposes.get(x as GpuJsTensor);
    if (wt) {
      this.transposes.delete(x as GpuJsTensor);
      this.free(wt);
    }
  }

  /** Wᵀ (IN, OUT) of a device-resident (OUT, IN) weight, made on its first use and freed with it. */
  private async transposed(W: GpuJsTensor): Promise<GpuJsTensor> {
    let wt = this.transposes.get(W);
    if (!wt) {
      const [OUT, IN] = W.shape;
      const k = this.cached(`transpose ${OUT} ${IN}`, () => createTransposeKernel(this.gpu, OUT, IN, this.opts));
      wt = await this.wrap(k(this.t(W)), [IN, OUT]);
      await this.submitted(1);
      this.transposes.set(W, wt);
    }
    return wt;
  }

  zeros(shape: readonly number[]): Promise<DTensor> {
    return this.upload(new Float32Array(size(shape)), shape);
  }

  async embedding(ids: Uint8Array, E: DTensor): Promise<DTensor> {
    const [V, D] = E.shape;
    const L = ids.length;
    const f = new Float32Array(L);
    for (let i = 0; i < L; i++) {
      if (ids[i] >= V) throw new RangeError(`embedding: token id ${ids[i]} ≥ vocabulary ${V}`);
      f[i] = ids[i];
    }
    const k = this.cached(`embedding ${L} ${V} ${D}`, () => createEmbeddingKernels(this.gpu, { L, V, D }, this.opts));
    const out = await this.wrap(k.forward(f, this.t(E)), [L, D]); // (L, D)
    await this.submitted(1);
    return out;
  }

  async addRmsNorm(x: DTensor, residual: DTensor | null, w: DTensor, eps: number): Promise<{ residual: DTensor; normed: DTensor }> {
    const [L, D] = x.shape;
    const k = this.cached(`rmsnorm ${L} ${D} ${eps}`, () => createRmsNormKernels(this.gpu, { L, D, eps }, this.opts));
    let res: GpuJsTensor;
    if (residual) {
      res = await this.wrap(k.add(this.t(x), this.t(residual)), [L, D]); // (L, D)
    } else {
      // residual' = x: share the storage (a handle gets its own reference, so freeing x keeps it)
      const s = this.t(x);
      res = new GpuJsTensor([L, D], isHandle(s) ? s.clone() : s);
    }
    const r = await this.wrap(k.rstd(this.t(res)), [L]); // (L)
    const normed = await this.wrap(k.apply(this.t(res), this.t(r), this.t(w)), [L, D]); // (L, D)
    this.free(r);
    await this.submitted(3);
    return { residual: res, normed };
  }

  async linear(x: DTensor, W: DTensor, rows?: readonly [number, number]): Promise<DTensor> {
    const [L, IN] = x.shape;
    const [WR, WIN] = W.shape;
    if (WIN !== IN) throw new RangeError(`linear: x has ${IN} features, W expects ${WIN}`);
    const [r0, r1] = rows ?? [0, WR];
    if (!(0 <= r0 && r0 < r1 && r1 <= WR)) throw new RangeError(`linear: rows [${r0}, ${r1}) outside W's ${WR} rows`);
    const OUT = r1 - r0;
    const sizes = `${this.len(x)} ${this.len(W)}`;
    let y: unknown;
    if (this.resident) {
      // through Wᵀ (kernels/linear): a warp's 32 outputs read 32 adjacent weights per step, where W's own
      // layout puts them IN floats apart (on the H100 the model forward's linears took 324 of 341 ms per
      // 65,536 tokens that way); 8 × 8 or 4 × 4 register tiles stored through storeAt (tileGemmSource,
      // gpujs/scatter-stores.ts) where OUT allows, else four rows per thread stored through laneStrides
      const WT = await this.transposed(W as GpuJsTensor);
      const t = registerTile(OUT);
      if (t) {
        const rowsPad = t * Math.ceil(L / t);
        const k = this.cached(`linearTile ${L} ${IN} ${OUT} ${WR} ${r0} ${this.len(x)}`, () => this.gpu.createKernel(tileGemmSource(t, t), {
          ...kernelSettings([OUT / t, rowsPad / t, 1], { K: IN, ARS: IN, AKS: 1, BKS: WR, BO: r0, OS: OUT, CQ: OUT / t, ZK: 0, ZO: 0, ...scatterFloats(rowsPad * OUT) }, {}, this.opts),
          functions: scatterHelpers,
        }));
        y = scatterView(await k(this.t(x), this.t(WT)) as GpuHandle, L * OUT); // (L, OUT) rows of a padded buffer
      } else {
        const k = this.cached(`linearT4 ${L} ${IN} ${OUT} ${WR} ${r0} ${this.len(x)}`, () => this.gpu.createKernel(linearFwdTRows4, {
          ...kernelSettings([OUT, Math.ceil(L / 4)], { IN, WOUT: WR, R0: r0, XS: IN, OUT, ...laneStrides(1, 4 * OUT, 0, OUT) }, {}, this.opts), returnType: 'Array(4)',
        }));
        y = laneView(await k(this.t(x), this.t(WT)) as GpuHandle, L * OUT); // (L, OUT) rows of a (4·⌈L/4⌉, OUT) buffer
      }
    } else if (r0 === 0 && r1 === WR) {
      const k = this.cached(`linear ${L} ${IN} ${OUT} ${sizes}`, () => createLinearKernels(this.gpu, { L, IN, OUT, bias: false }, this.opts));
      y = k.forward(this.t(x), this.t(W));
    } else {
      const k = this.cached(`linearRows ${L} ${IN} ${OUT} ${r0} ${sizes}`, () => createLinearRowsKernel(this.gpu, { L, IN, OUT, R0: r0 }, this.opts));
      y = k(this.t(x), this.t(W));
    }
    const out = await this.wrap(y, [L, OUT]); // (L, OUT)
    await this.submitted(1);
    return out;
  }

  async conv1dSilu(x: DTensor, w: DTensor, b: DTensor, state: DTensor): Promise<{ y: DTensor; state: DTensor }> {
    const [L, C] = x.shape;
    const K = w.shape[1];
    const k = this.cached(`conv1d ${L} ${C} ${K}`, () => createConv1dKernels(this.gpu, { L, C, K }, this.opts));
    const y = await this.wrap(k.forwardSilu(this.t(x), this.t(w), this.t(b), this.t(state)), [L, C]); // (L, C)
    const s = await this.wrap(k.stateOut(this.t(x), this.t(state)), [K - 1, C]); // (K-1, C)
    await this.submitted(2);
    return { y, state: s };
  }

  async selectiveScan(a: { u: DTensor; deltaRaw: DTensor; A: DTensor; B: DTensor; C: DTensor; D: DTensor; z: DTensor; deltaBias: DTensor; h: DTensor }): Promise<{ y: DTensor; h: DTensor }> {
    const [L, ED] = a.u.shape;
    const N = a.A.shape[1];
    // on the device, chunks of 64 with one thread per (chunk, channel) walking all 64 tokens (replay
    // layout 'chunk', B and C as quads, the next token loaded ahead): on the H100 at 2^20 4.85 ms, against
    // 5.51 at chunk 32 and 6.10 before the quads and the loads ahead, faster from 2^13 up (docs/benchmarks.md,
    // "loads in flight"); a partial last chunk costs at most 63 padding rows. webasm keeps the default 8
    const scan = this.cached(`scan ${ED} ${N}`, () => createSelectiveScanKernels(this.gpu, { ED, N, maxBindingBytes: this.maxBindingBytes, ...(this.resident ? { chunk: 64 } : {}) }));
    const common = {
      L, ED, N, u: this.t(a.u), deltaRaw: this.t(a.deltaRaw), A: this.t(a.A), D: this.t(a.D), z: this.t(a.z),
      deltaBias: this.t(a.deltaBias), h0: this.t(a.h),
    };
    if (!this.resident) {
      // webasm: host arrays, streamed by the scan in segments if long
      const r = await scan.run({ ...common, B: this.t(a.B), C: this.t(a.C) });
      return { y: new GpuJsTensor([L, ED], r.out as Float32Array), h: new GpuJsTensor([ED, N], r.hL as Float32Array) };
    }
    // webgpu: the device path takes B and C packed as one (L, 2N) tensor and must fit one segment
    const seg = scan.segmentLength(2 * N);
    if (L > seg) throw new RangeError(`selectiveScan: a chunk of ${L} tokens exceeds the device scan's segment (${seg} tokens for ED=${ED}, N=${N}); run the model in shorter chunks`);
    const pack = this.cached(`packBC ${L} ${N}`, () => createPackBCKernel(this.gpu, { L, N }, this.opts));
    const BC = await this.wrap(pack(this.t(a.B), this.t(a.C)), [L, 2 * N]); // (L, 2N)
    const r = await scan.run({ ...common, BC: this.t(BC), bcStride: 2 * N, bOffset: 0, cOffset: N });
    this.free(BC);
    const y = await this.wrap(r.out, [L, ED]); // (L, ED), storage padded to whole chunks
    const h = await this.wrap(r.hL, [ED, N]); // (ED, N)
    // delta, chunk sums, summaries, ⌈log2(NC+1)⌉ pass pairs, output, final state
    await this.submitted(6 + 2 * Math.ceil(Math.log2(Math.ceil(L / scan.chunk) + 1)));
    return { y, h };
  }

  async crossEntropy(logits: DTensor, targets: Int32Array): Promise<{ nll: Float64Array; correct: number }> {
    const [L, V] = logits.shape;
    if (targets.length !== L) throw new RangeError(`crossEntropy: ${targets.length} targets for ${L} rows of logits`);
    const tf = new Float32Array(L);
    for (let i = 0; i < L; i++) {
      if (targets[i] >= V) throw new RangeError(`crossEntropy: target ${targets[i]} at row ${i} ≥ vocabulary ${V}`);
      tf[i] = targets[i] < 0 ? -1 : targets[i];
    }
    const k = this.cached(`ce ${L} ${V} ${this.len(logits)}`, () => createCrossEntropyKernels(this.gpu, { L, V }, this.opts));
    const lg = this.t(logits);
    const lse = await this.wrap(k.lse(lg), [L]);
    const nllT = await this.wrap(k.nll(lg, this.t(lse), tf), [L]);
    const hitT = await this.wrap(k.correct(lg, tf), [L]);
    await this.submitted(3);
    const nll32 = await this.read(nllT);
    const hits = await this.read(hitT);
    for (const x of [lse, nllT, hitT]) this.free(x);
    const nll = new Float64Array(L);
    let correct = 0;
    for (let i = 0; i < L; i++) {
      if (targets[i] < 0) continue;
      nll[i] = nll32[i];
      correct += hits[i];
    }
    return { nll, correct };
  }

  async dispose(): Promise<void> {
    this.gate.reset();
    if (this.device) await this.device.queue.onSubmittedWorkDone();
    this.pool?.drain(); // the free lists only: buffers still in use (the training engine's) stay
    for (const k of this.created) {
      try {
        k.destroy?.();
      } catch {
        // a kernel that never ran has nothing to release
      }
    }
    this.created.length = 0;
    this.kernels.clear();
  }
}

export async function createGpuJsBackend(mode: 'webgpu' | 'webasm'): Promise<Backend> {
  const gpu = await getGpu(mode);
  if (mode === 'webgpu') {
    const a = await probeWebGpu();
    if (!a.ok) throw new DeviceError(`WebGPU unavailable: ${a.reason}`);
    return new GpuJsBackend(mode, gpu, `gpu.js WebGPU kernels on ${a.name}`, a.limits!.maxStorageBufferBindingSize);
  }
  // a trivial kernel proves the WebAssembly backend compiles and runs here
  try {
    const k = gpu.createKernel(function (this: { thread: { x: number } }, x: number[]) { return x[this.thread.x] * 2; }, { output: [3] });
    const r = await k(new Float32Array([1, 2, 3]));
    k.destroy?.();
    if (r?.[2] !== 6) throw new Error(`self-test returned ${r?.[2]}, expected 6`);
  } catch (err) {
    throw new DeviceError(`gpu.js webasm mode did not initialise: ${(err as Error).message}; use --device cpu`);
  }
  return new GpuJsBackend(mode, gpu, 'gpu.js WebAssembly kernels on 1 thread', 128 * 2 ** 20);
}
