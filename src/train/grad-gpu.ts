// Float32 gradient engine on the GPU: the same forward/backward as the float64 reference
// (grad-ref.ts) and the CPU engine (grad-cpu.ts), every op a gpu.js kernel running through WebGPU
// (dawn.node), every tensor a device-resident gpu.js handle. Inside a call nothing comes back to the
// host between kernels: the weights go up once, the gradients and the per-token losses come back once
// at the end. Not the training loop (loop.ts), not a webasm path (gpu.js webasm is ~150× slower than
// the `cpu` engine; training on CPU uses grad-cpu.ts).
//
// Backpropagation through time in chunks along L, as grad-cpu.ts (see its header):
//   pass 1  forward over chunks 0..nC-2 keeping only each layer's conv state (K-1, ED) and SSM state
//           (ED, N) at every chunk start;
//   pass 2  chunks in reverse: recompute the chunk's forward from the stored states keeping every
//           layer's activations, then the loss (final RMSNorm, tied or untied head, cross-entropy) and
//           the backward down through the layers, each layer carrying ∂loss/∂(state at the chunk start)
//           — the scan's dh0 and the conv's dState — into its backward in the previous chunk.
// A chunk is one segment of the gpu.js selective scan (forward kernels/selective-scan/gpujs.ts,
// backward gpujs-backward.ts), so its length is capped by the adapter's storage-binding limit.
//
// Reductions over tokens (dW of every linear, conv dW/dB, RMSNorm dW, embedding dE) are split: one
// kernel writes ⌈Lc/TS⌉ partial sums per parameter (one thread per (split, parameter)), a second adds
// them to the parameter's float32 accumulator. One thread per parameter looping over all Lc tokens
// would leave most of a GPU idle (e.g. 128 threads for a norm's dW). Accumulators are replaced, not
// updated in place (a gpu.js kernel cannot read its own output): acc' = acc + Σ partials.
//
// Kernel outputs get their own buffers (gpu.js `immutable`), recycled through a pool keyed by size
// (src/backend/gpujs/buffer-pool.ts): allocating a fresh buffer per call dominated element-wise kernels.
// With recycled buffers the same bind groups recur, and a cache (bind-group-cache.ts) saves the
// largest piece of a kernel call's host cost; command buffers go to the queue in batches
// (submit-batcher.ts). Short windows of a batch run together as one chunk of independent windows (the
// conv and scan kernels take the window length: zero states at each window start, nothing crosses a
// window boundary), so a batch of 64 windows of 1,024 tokens costs two sets of launches, not 64.
//
// Memory on the device for a chunk of T tokens, default model (D 128, ED 256, N 16, R 8, 12 layers):
// every layer's activations ≈ T·(2D + 6ED + R + 2N)·4 B (7.4 KB per token per layer), plus one layer's
// backward temporaries (the scan backward's chunk-start and adjoint trees, ≈ 2·T/8·(N+1)·ED·4 B, and a
// few (T, ED) tensors), plus each layer's scan tree saved by pass 2's forward for its backward
// (≈ 2·T/8·(N+1)·ED·4 B + T·ED·4 B for δ, + T·ED·4 B for y before the gate); chunk-start states are tiny.
// T = 32,768 by default: 6.5 GiB peak on the H100.
import { kernelSettings, laneStrides, laneView, scatterFloats, scatterHelpers, scatterView, type GpuHandle, type GpuJsLike } from '../../kernels/gpujs-types.js';
import {
  linearBwdWSplit, linearBwdWSplit22Full, linearBwdX, linearFwdT, linearFwdT22, linearFwdTRows4, registerTile, tileGemmSource, type TileGemmConstants,
} from '../../kernels/linear/gpujs.js';
import {
  convBwdBSplit, convBwdState, convBwdWSplit, convBwdWSplitWin, convBwdWTapsSource, convBwdX, convBwdXWin, convFwd, convFwdWin, convStateOut,
} from '../../kernels/conv1d/gpujs.js';
import { applyKernel, bwdWSplitKernel, bwdXAddKernel, bwdXKernel, coefKernel, rstdKernel } from '../../kernels/rms-norm/gpujs.js';
import { embBwdSplit, embFwd } from '../../kernels/embedding/gpujs.js';
import { ceBwdKernel, correctKernel, lseKernel, nllKernel } from '../../kernels/cross-entropy/gpujs.js';
import { siluBwd, siluFwd } from '../../kernels/silu/gpujs.js';
import { createSelectiveScanKernels, type GpuScanSaved, toFlat } from '../../kernels/selective-scan/gpujs.js';
import { createSelectiveScanBackwardKernels } from '../../kernels/selective-scan/gpujs-backward.js';
import {
  accumulateKernel, accumulatePartialsKernel, accumulateProductKernel, add2Kernel, copyKernel, pack2Kernel, pack3Kernel, transposeKernel, zeroKernel,
} from '../backend/gpujs/local-kernels.js';
import { getGpu, probeWebGpu } from '../backend/gpu-runtime.js';
import { installBufferPool, type BufferPool } from '../backend/gpujs/buffer-pool.js';
import { installBindGroupCache, type BindGroupCache } from '../backend/gpujs/bind-group-cache.js';
import { installSubmitBatcher, type SubmitBatcher } from '../backend/gpujs/submit-batcher.js';
import { QueueGate } from '../backend/gpujs/queue-gate.js';
import { DeviceError, UsageError } from '../errors.js';
import type { MambaConfig, MambaDims } from '../model/config.js';
import { dims } from '../model/config.js';
import type { MambaWeights } from '../model/weights.js';
import { checkTrainable } from './grad-check.js';
import type { Batch, GradientFn, LossAndGrads } from './types.js';

export interface GpuGradOptions {
  /**
   * tokens per chunk along L (default: the largest power of two the scan's device path accepts in one
   * segment, at most DEFAULT_CHUNK_CAP (32,768), capped at L)
   */
  chunk?: number;
  /** tokens per split of the token reductions (default 256) */
  split?: number;
  /** tokens per chunk of the selective scan's tree, forward and backward (default: their own, 8); the forward shares its tree with the backward only where both chunks agree */
  scanChunk?: number;
  /** kernel calls between waits for the device queue to drain (default 256; WebGPU has no back-pressure) */
  drainEvery?: number;
  /**
   * each wait is for the work queued by the previous drain point rather than for all of it, so the GPU
   * always has up to `drainEvery` calls queued while the host records the next ones (default true;
   * false: the queue runs empty at every drain point while the host catches up)
   */
  overlapDrains?: boolean;
  /**
   * benchmarks: waits for the device after every kernel (or scan) and adds its wall time in ms to
   * `profile[name]` — serialises the GPU, so a profiled step is slower than an unprofiled one
   */
  profile?: Record<string, number>;
  /** recycle kernel output buffers (src/backend/gpujs/buffer-pool.ts) and cache bind groups (bind-group-cache.ts); default true */
  bufferPool?: boolean;
  /** hand kernel calls to the GPU queue in batches (src/backend/gpujs/submit-batcher.ts; default true; needs bufferPool) */
  batchSubmits?: boolean;
  /**
   * run several windows of a batch as one chunk of independent windows (default true where they fit:
   * B ≥ 2, 2·L ≤ chunk, L a multiple of the scan's chunk): one set of kernel launches for up to
   * ⌊chunk/L⌋ windows instead of one per window
   */
  batchWindows?: boolean;
  /** pass 2's scan forward saves δ and its tree for the scan backward, which then skips recomputing them (default true) */
  shareScanTree?: boolean;
  /** benchmarks: the scan backward's dC/dB d-split (gpujs-backward.ts `tune.dSplit`; default its own) */
  scanDSplit?: number;
  /**
   * outputs per thread of the linears (kernels/linear/gpujs.ts): 'tiles' (default) — 8 × 8 or 4 × 4
   * register tiles stored through storeAt (tileGemmSource; src/backend/gpujs/scatter-stores.ts) where
   * the sizes divide, else as '2x2'; '2x2' — forward and dX as 2 × 2 tiles (linearFwdT22), dW as 2 × 2
   * tiles of split partials without a predicate (linearBwdWSplit22Full) where the shapes are even and
   * the chunk is a multiple of the split; 'rows4' — forward and dX four rows per thread
   * (linearFwdTRows4), dW one output; '1' — one output per thread everywhere.
   */
  linearTile?: '1' | 'rows4' | '2x2' | 'tiles';
  /**
   * record the kernel calls into one command encoder and compute pass between flushes (submit-batcher.ts
   * `sharePasses`; default true; needs batchSubmits). Off while a pass timer runs (it times passes).
   */
  sharePasses?: boolean;
  /** benchmarks: a per-kernel GPU timer (src/backend/gpujs/pass-timer.ts) whose scope is set to each op's name */
  passTimer?: { scope: string };
  /**
   * benchmarks, the host side of a kernel call as it was: the pool hands out the buffer freed last
   * (buffer-pool.ts `lastFreedFirst`), and every params write goes to the queue (submit-batcher.ts
   * `dedupeWrites` off). Set on the device's pool and batcher when this engine installs them.
   */
  hostLegacy?: boolean;
}

/** A GradientFn on the GPU, with the device resources it holds. */
export interface GpuGradientFn extends GradientFn {
  /** adapter description */
  readonly description: string;
  /** destroys the kernels (call once, after the last step) */
  dispose(): Promise<void>;
}

type H = GpuHandle & { context?: { device?: unknown } };
const isHandle = (x: unknown): x is H => !!x && !ArrayBuffer.isView(x) && typeof (x as H).toArray === 'function';
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Kernel cache and call site: every kernel is `pipeline` + `immutable` (each result owns its buffer). */
class Dev {
  private readonly cache = new Map<string, { (...a: unknown[]): unknown; destroy?: () => void }>();
  private device: { queue: { onSubmittedWorkDone(): Promise<void> } } | null = null;
  pool: BufferPool | null = null;
  bindGroups: BindGroupCache | null = null;
  private batcher: SubmitBatcher | null = null;
  private readonly gate: QueueGate;
  constructor(readonly gpu: GpuJsLike, drainEvery: number, readonly profile?: Record<string, number>, private readonly usePool = true,
    private readonly batchSubmits = true, overlapDrains = true, private readonly passTimer?: { scope: string },
    private readonly sharePasses = true, private readonly hostLegacy = false) {
    this.gate = new QueueGate(drainEvery, overlapDrains);
  }

  /** Runs `f` and, when profiling, charges its wall time (device work finished) to `name`. */
  async timed<T>(name: string, f: () => Promise<T>): Promise<T> {
    if (this.passTimer) this.passTimer.scope = name;
    if (!this.profile || !this.device) return f();
    await this.device.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    const r = await f();
    await this.device.queue.onSubmittedWorkDone();
    this.profile[name] = (this.profile[name] ?? 0) + performance.now() - t0;
    return r;
  }

  /** Builds (once per function, grid, constants and argument sizes) and calls a kernel. */
  async k(name: string, fn: Function | string, output: number[], ints: Record<string, number>, args: unknown[],
    o: { floats?: Record<string, number>; argumentTypes?: Record<string, string>; extra?: Record<string, unknown> } = {}): Promise<H> {
    const sizes = args.map((a) => (isHandle(a) ? `h${prod(a.output)}` : ArrayBuffer.isView(a) ? `a${(a as Float32Array).length}` : 'n')).join(',');
    const key = `${name}|${output.join('x')}|${JSON.stringify(ints)}|${JSON.stringify(o.floats ?? {})}|${sizes}`;
    let kern = this.cache.get(key);
    if (!kern) {
      kern = this.gpu.createKernel(fn, {
        ...kernelSettings(output, ints, o.floats ?? {}, { pipeline: true, immutable: true }),
        ...(o.argumentTypes ? { argumentTypes: o.argumentTypes } : {}),
        ...(o.extra ?? {}),
      });
      this.cache.set(key, kern!);
    }
    if (this.batcher) this.batcher.sharePasses = this.sharePasses; // per call: engines may share a device
    const h = await this.timed(name, async () => kern!(...args));
    if (!isHandle(h)) throw new DeviceError(`internal: the webgpu kernel ${name} returned no device handle`);
    if (!this.device) {
      this.device = (h.context?.device ?? null) as Dev['device'];
      if (this.device && this.usePool) {
        this.pool = installBufferPool(this.device as unknown as Parameters<typeof installBufferPool>[0]);
        if (this.hostLegacy) this.pool.lastFreedFirst = true;
        this.bindGroups = installBindGroupCache(this.device as unknown as Parameters<typeof installBindGroupCache>[0]);
        if (this.batchSubmits) this.batcher = installSubmitBatcher(this.device as unknown as Parameters<typeof installSubmitBatcher>[0]);
        if (this.batcher && this.hostLegacy) this.batcher.dedupeWrites = false;
      }
    }
    await this.submitted(1);
    return h;
  }

  /** Counts kernel calls made elsewhere (the scan's) and drains the queue every `drainEvery` calls. */
  submitted(n: number): Promise<void> {
    return this.gate.counted(n, this.device);
  }

  upload(a: Float32Array): Promise<H> {
    return this.k('copy', copyKernel, [a.length], {}, [a]);
  }

  async finish(): Promise<void> {
    this.gate.reset();
    if (this.device) await this.device.queue.onSubmittedWorkDone();
  }

  dispose(): void {
    for (const k of this.cache.values()) {
      try {
        k.destroy?.();
      } catch {
        // a kernel that never ran has nothing to release
      }
    }
    this.cache.clear();
    this.bindGroups?.clear(); // before the pool destroys the buffers they bind
    this.pool?.drain();
  }
}

const free = (...hs: Array<H | null | undefined>) => {
  for (const h of hs) h?.delete();
};

/** One layer's weights on the device. */
interface LayerW {
  norm: H; inProj: H; convW: H; convB: H; xProj: H; dtW: H; dtB: H; A: H; D: H; outProj: H;
  /** the linear weights transposed, (IN, OUT), for the forward (kernels/linear linearFwdT) */
  inProjT: H; xProjT: H; dtWT: H; outProjT: H;
}

/** One layer's gradient accumulators (same names). */
type LayerG = { norm: H; inProj: H; convW: H; convB: H; xProj: H; dtW: H; dtB: H; ALog: H; D: H; outProj: H };

/** Activations of one layer over a chunk, kept for its backward. */
interface Acts {
  r: H; xn: H; x: H; z: H; xPre: H; xc: H; xdbl: H; deltaRaw: H; y: H;
  /** what the scan's forward saved for its backward (δ and its tree), where the two can share it */
  scan: GpuScanSaved | null;
}

/** Frees a layer's activations, the scan's saved tree included. */
function freeActs(a: Acts): void {
  const { scan, ...hs } = a;
  free(...Object.values(hs));
  if (scan) free(scan.delta as H, scan.starts as H, ...(scan.sums as H[]), scan.y as H | undefined);
}

/**
 * Default chunk cap. Memory grows with the chunk (every layer's activations are kept for it); on the
 * H100 at L = 2^20, chunks of 65,536 were within 5 % of 32,768 for twice the memory (docs/benchmarks.md).
 */
export const DEFAULT_CHUNK_CAP = 32768;

export async function makeGradientsGpu(options: GpuGradOptions = {}): Promise<GpuGradientFn> {
  const report = await probeWebGpu();
  if (!report.ok) throw new DeviceError(`WebGPU unavailable: ${report.reason}; train with --device cpu`);
  const maxBinding: number = report.limits!.maxStorageBufferBindingSize;
  const gpu = await getGpu('webgpu');
  const dev = new Dev(gpu, options.drainEvery ?? 256, options.profile, options.bufferPool ?? true, options.batchSubmits ?? true, options.overlapDrains ?? true, options.passTimer, options.sharePasses ?? true, options.hostLegacy ?? false);
  const TS = options.split ?? 256;
  if (!(Number.isInteger(TS) && TS >= 1)) throw new RangeError(`gradientsGpu: split = ${TS} must be a positive integer`);
  const scanT = options.scanChunk;
  const scans = new Map<string, { fwd: ReturnType<typeof createSelectiveScanKernels>; bwd: ReturnType<typeof createSelectiveScanBackwardKernels> }>();
  const scanFor = (ED: number, N: number) => {
    const key = `${ED} ${N}`;
    let s = scans.get(key);
    if (!s) {
      s = {
        fwd: createSelectiveScanKernels(gpu, { ED, N, ...(scanT ? { chunk: scanT } : {}), maxBindingBytes: maxBinding }), // default chunk 8: the backward's (the tree is shared)
        bwd: createSelectiveScanBackwardKernels(gpu, { ED, N, ...(scanT ? { chunk: scanT } : {}), maxBindingBytes: maxBinding, ...(options.scanDSplit ? { tune: { dSplit: options.scanDSplit } } : {}) }),
      };
      scans.set(key, s);
    }
    return s;
  };

  const fn = (async (config: MambaConfig, weights: MambaWeights, batch: Batch): Promise<LossAndGrads> => {
    checkTrainable(config, weights, batch);
    const d = dims(config);
    const scan = scanFor(d.ED, d.N);
    const maxT = Math.min(scan.bwd.maxLength, scan.fwd.segmentLength(d.R + 2 * d.N));
    let T = options.chunk ?? Math.min(2 ** Math.floor(Math.log2(maxT)), DEFAULT_CHUNK_CAP);
    if (!(Number.isInteger(T) && T >= 1)) throw new RangeError(`gradientsGpu: chunk = ${T} must be a positive integer`);
    if (T > maxT) throw new UsageError(`gradient chunk of ${T} tokens is more than the scan takes in one call on this device (${maxT} at ED=${d.ED}, N=${d.N}); use --train-chunk ${2 ** Math.floor(Math.log2(maxT))} or less`);
    const windowsPerChunk = (options.batchWindows ?? true) && batch.B >= 2 && scan.fwd.scheme === 'tree' && scan.bwd.scheme === 'tree'
      && scan.bwd.sub === scan.bwd.chunk && batch.L % scan.fwd.chunk === 0 && batch.L % scan.bwd.chunk === 0
      ? Math.min(batch.B, Math.floor(T / batch.L)) : 1;
    T = Math.min(T, batch.L);
    const run = new Step(dev, config, d, scan, T, TS, windowsPerChunk, options.shareScanTree ?? true, options.linearTile ?? 'tiles');
    try {
      return await run.lossAndGrads(weights, batch);
    } finally {
      run.release();
    }
  }) as GpuGradientFn;
  Object.defineProperty(fn, 'description', { value: `gpu.js WebGPU kernels on ${report.name}` });
  fn.dispose = async () => {
    await dev.finish();
    dev.dispose();
  };
  return fn;
}

/** One call: weights on the device, accumulators, the chunked forward/backward. */
class Step {
  private readonly owned: H[] = []; // released at the end of the call
  private w!: { embedding: H; head: H; headT: H; normF: H; layers: LayerW[] };
  private g!: { embedding: H; lmHead: H | null; normF: H; layers: LayerG[] };
  private readonly eps: number;
  private readonly floats: { EPS: number };

  constructor(private readonly dev: Dev, private readonly config: MambaConfig, private readonly d: MambaDims,
    private readonly scan: { fwd: ReturnType<typeof createSelectiveScanKernels>; bwd: ReturnType<typeof createSelectiveScanBackwardKernels> },
    private readonly T: number, private readonly TS: number, private readonly windowsPerChunk = 1, share = true, private readonly tile: '1' | 'rows4' | '2x2' | 'tiles' = 'tiles') {
    this.eps = config.normEps;
    this.floats = { EPS: this.eps };
    const { fwd, bwd } = scan;
    this.shareScanTree = share && fwd.scheme === 'tree' && bwd.scheme === 'tree' && fwd.chunk === bwd.chunk && bwd.layout !== 'warp' && bwd.sub === bwd.chunk;
  }

  /** whether the scan's backward can take the tree its forward saved (same scheme, chunk and layout) */
  private readonly shareScanTree: boolean;

  private async own(a: Float32Array): Promise<H> {
    const h = await this.dev.upload(a);
    this.owned.push(h);
    return h;
  }

  /** Wᵀ (IN, OUT) of an uploaded (OUT, IN) weight, transposed on the device (was ≈ 9 ms of host loops per step) */
  private async ownT(W: H, OUT: number, IN: number): Promise<H> {
    const h = await this.dev.k('transpose', transposeKernel, [OUT, IN], { C: IN }, [W]);
    this.owned.push(h);
    return h;
  }

  release(): void {
    for (const h of this.owned) h.delete();
    this.owned.length = 0;
    const all = [this.g?.embedding, this.g?.lmHead, this.g?.normF, ...(this.g?.layers ?? []).flatMap((l) => Object.values(l))];
    for (const h of all) h?.delete();
  }

  private async zeros(n: number): Promise<H> {
    return this.dev.k('zero', zeroKernel, [n], {}, []);
  }

  /** acc ← acc + g (both freed / replaced). */
  private async acc(acc: H, gr: H, n: number): Promise<H> {
    const out = await this.dev.k('acc', accumulateKernel, [n], {}, [acc, gr]);
    free(acc, gr);
    return out;
  }

  /** acc ← acc + Σ_s partials of a split reduction kernel with grid `grid` (last dim = splits). */
  private async accSplit(acc: H, name: string, fn: Function, grid: number[], ints: Record<string, number>, args: unknown[]): Promise<H> {
    const S = grid[grid.length - 1];
    const X = prod(grid) / S;
    const P = await this.dev.k(name, fn, grid, { ...ints, TS: this.TS }, args);
    const out = await this.dev.k('accP', accumulatePartialsKernel, [X], { X, S }, [acc, P]);
    free(acc, P);
    return out;
  }

  /** y (Lc, OUT) = x (Lc, IN; rows XS apart) · rows [R0, R0+OUT) of W, through Wᵀ (IN, WOUT). */
  private linFwd(x: H, WT: H, Lc: number, IN: number, OUT: number, WOUT: number, R0 = 0, XS = IN): Promise<H> {
    const t = this.tile === 'tiles' ? registerTile(OUT) : 0;
    if (t) return this.tileGemm('linFwd', t, t, [OUT / t, Math.ceil(Lc / t), 1], { K: IN, ARS: XS, AKS: 1, BKS: WOUT, BO: R0, OS: OUT, CQ: OUT / t, ZK: 0, ZO: 0 }, t * Math.ceil(Lc / t) * OUT, Lc * OUT, [x, WT]);
    if (this.tile !== 'rows4' && this.tile !== '1' && OUT % 2 === 0) return this.tile22('linFwd', OUT, Lc, { IN, WOUT, R0, XS }, [x, WT]);
    if (this.tile !== '1') return this.rows4('linFwd', OUT, Lc, { IN, WOUT, R0, XS, OUT }, [x, WT]);
    return this.dev.k('linFwd', linearFwdT, [OUT, Lc], { IN, WOUT, R0, XS }, [x, WT]);
  }

  /** dX (Lc, IN) = dY (Lc, OUT) · W (OUT, IN). */
  private linBwdX(dY: H, W: H, Lc: number, IN: number, OUT: number): Promise<H> {
    // dY·W is the forward kernel's product with W (OUT, IN) as its "Wᵀ": IN := OUT, WOUT := IN
    const t = this.tile === 'tiles' ? registerTile(IN) : 0;
    if (t) return this.tileGemm('linBwdX', t, t, [IN / t, Math.ceil(Lc / t), 1], { K: OUT, ARS: OUT, AKS: 1, BKS: IN, BO: 0, OS: IN, CQ: IN / t, ZK: 0, ZO: 0 }, t * Math.ceil(Lc / t) * IN, Lc * IN, [dY, W]);
    if (this.tile !== 'rows4' && this.tile !== '1' && IN % 2 === 0) return this.tile22('linBwdX', IN, Lc, { IN: OUT, WOUT: IN, R0: 0, XS: OUT }, [dY, W]);
    if (this.tile !== '1') return this.rows4('linBwdX', IN, Lc, { IN: OUT, WOUT: IN, R0: 0, XS: OUT, OUT: IN }, [dY, W]);
    return this.dev.k('linBwdX', linearBwdX, [IN, Lc], { L: Lc, IN, OUT }, [dY, W]);
  }

  /** A tileGemmSource product (R × C tiles, `floats` stored), seen as its first `count` floats. */
  private async tileGemm(name: string, R: number, C: number, grid: number[], ints: TileGemmConstants, floats: number, count: number, args: unknown[]): Promise<H> {
    const stored = await this.dev.k(`${name}${R}x${C}`, tileGemmSource(R, C), grid, { ...ints, ...scatterFloats(floats) }, args, { extra: { functions: scatterHelpers } });
    return scatterView(stored, count) as H;
  }

  /**
   * acc (ED, K) ← acc + the conv's dW over the chunk: all K taps per thread (convBwdWTapsSource, storeAt)
   * where every split is full, else one tap per thread (convBwdWSplit).
   */
  private async convBwdW(acc: H, dXPre: H, x: H, convIn: H, Lc: number, ED: number, K: number): Promise<H> {
    const S = Math.ceil(Lc / this.TS);
    if (Lc % this.TS !== 0) return this.accSplit(acc, 'convBwdW', convBwdWSplit, [K, ED, S], { L: Lc, C: ED, K }, [dXPre, x, convIn]);
    const stored = await this.dev.k('convBwdWTaps', convBwdWTapsSource(K), [ED, S], { C: ED, K, TS: this.TS, ...scatterFloats(S * ED * K) }, [dXPre, x, convIn], { extra: { functions: scatterHelpers } });
    const P = scatterView(stored, S * ED * K) as H;
    const out = await this.dev.k('accP', accumulatePartialsKernel, [ED * K], { X: ED * K, S }, [acc, P]);
    free(acc, P);
    return out;
  }

  /** linearFwdTRows4's (Lc, W) result, stored as rows (padded to 4·⌈Lc/4⌉; lane-strides.ts). */
  private async rows4(name: string, W: number, Lc: number, ints: Record<string, number>, args: unknown[]): Promise<H> {
    const stored = await this.dev.k(`${name}4`, linearFwdTRows4, [W, Math.ceil(Lc / 4)], { ...ints, ...laneStrides(1, 4 * W, 0, W) }, args, { extra: { returnType: 'Array(4)' } });
    return laneView(stored, Lc * W) as H;
  }

  /** linearFwdT22's (Lc, W) result for an even W, stored as rows (padded to 2·⌈Lc/2⌉; lane-strides.ts). */
  private async tile22(name: string, W: number, Lc: number, ints: Record<string, number>, args: unknown[]): Promise<H> {
    const stored = await this.dev.k(`${name}22`, linearFwdT22, [W / 2, Math.ceil(Lc / 2)], { ...ints, OH: W / 2, ...laneStrides(1, 2 * W, 0, W / 2) }, args, { extra: { returnType: 'Array(4)' } });
    return laneView(stored, Lc * W) as H;
  }

  /**
   * acc (OUT, IN) ← acc + dYᵀ x over the chunk's Lc tokens (x's rows XS floats apart): split partials,
   * then their sum. 2 × 2 tiles where both sizes are even, IN ≥ 16 (dt_proj's IN of 8 gained nothing on
   * the H100) and every split is full; one output per thread otherwise.
   */
  private async linBwdW(acc: H, dY: H, x: H, Lc: number, IN: number, OUT: number, XS: number): Promise<H> {
    const S = Math.ceil(Lc / this.TS);
    const t = this.tile === 'tiles' && Lc % this.TS === 0 ? Math.min(registerTile(IN), registerTile(OUT)) : 0;
    if (t) {
      const P = await this.tileGemm('linBwdW', t, t, [IN / t, OUT / t, S], { K: this.TS, ARS: 1, AKS: OUT, BKS: XS, BO: 0, OS: IN, CQ: IN / t, ZK: this.TS, ZO: OUT * IN }, S * OUT * IN, S * OUT * IN, [dY, x]);
      const out = await this.dev.k('accP', accumulatePartialsKernel, [OUT * IN], { X: OUT * IN, S }, [acc, P]);
      free(acc, P);
      return out;
    }
    if ((this.tile === '2x2' || this.tile === 'tiles') && IN % 2 === 0 && OUT % 2 === 0 && IN >= 16 && Lc % this.TS === 0) {
      const stored = await this.dev.k('linBwdW22', linearBwdWSplit22Full, [IN / 2, OUT / 2, S],
        { L: Lc, OUT, TS: this.TS, XS, IH: IN / 2, ...laneStrides(1, 2 * IN, OUT * IN, IN / 2) }, [dY, x], { extra: { returnType: 'Array(4)' } });
      const P = laneView(stored, S * OUT * IN) as H;
      const out = await this.dev.k('accP', accumulatePartialsKernel, [OUT * IN], { X: OUT * IN, S }, [acc, P]);
      free(acc, P);
      return out;
    }
    return this.accSplit(acc, 'linBwdW', linearBwdWSplit, [IN, OUT, S], { L: Lc, IN, OUT, XS }, [dY, x]);
  }

  async lossAndGrads(weights: MambaWeights, batch: Batch): Promise<LossAndGrads> {
    const { dev, d, config } = this;
    const { D, ED, N, R, K, V, nLayer } = d;
    const { B, L } = batch;
    const total = B * (L - 1);
    // weights up, accumulators zeroed
    const layers: LayerW[] = [];
    for (const l of weights.layers) {
      const A = new Float32Array(l.ALog.length);
      for (let k = 0; k < A.length; k++) A[k] = -Math.exp(l.ALog[k]); // as MambaModel.load: float64 exp
      const inProj = await this.own(l.inProj), xProj = await this.own(l.xProj), dtW = await this.own(l.dtProjWeight), outProj = await this.own(l.outProj);
      layers.push({
        norm: await this.own(l.norm), inProj, convW: await this.own(l.conv1dWeight), convB: await this.own(l.conv1dBias),
        xProj, dtW, dtB: await this.own(l.dtProjBias), A: await this.own(A), D: await this.own(l.D), outProj,
        inProjT: await this.ownT(inProj, 2 * ED, D), xProjT: await this.ownT(xProj, R + 2 * N, ED),
        dtWT: await this.ownT(dtW, ED, R), outProjT: await this.ownT(outProj, D, ED),
      });
    }
    const embedding = await this.own(weights.embedding);
    const head = config.tieEmbeddings ? embedding : await this.own(weights.lmHead!);
    this.w = {
      embedding, head, headT: await this.ownT(head, V, D),
      normF: await this.own(weights.normF), layers,
    };
    const gl: LayerG[] = [];
    for (let i = 0; i < nLayer; i++) {
      gl.push({
        norm: await this.zeros(D), inProj: await this.zeros(2 * ED * D), convW: await this.zeros(ED * K), convB: await this.zeros(ED),
        xProj: await this.zeros((R + 2 * N) * ED), dtW: await this.zeros(ED * R), dtB: await this.zeros(ED), ALog: await this.zeros(ED * N),
        D: await this.zeros(ED), outProj: await this.zeros(D * ED),
      });
    }
    this.g = { embedding: await this.zeros(V * D), lmHead: config.tieEmbeddings ? null : await this.zeros(V * D), normF: await this.zeros(D), layers: gl };

    const T = this.T;
    const nC = Math.ceil(L / T);
    const zeroConv = await this.own(new Float32Array((K - 1) * ED));
    const zeroSsm = await this.own(new Float32Array(ED * N));
    const losses: Array<{ nll: H; hit: H; n: number }> = [];
    try {
      if (this.windowsPerChunk >= 2) {
        // several windows at a time, as one chunk of independent windows (zero states, nothing carried)
        for (let b0 = 0; b0 < B; b0 += this.windowsPerChunk) {
          const nW = Math.min(this.windowsPerChunk, B - b0);
          await this.windowsChunk(batch.ids.subarray(b0 * L, (b0 + nW) * L), L, nW, zeroConv, zeroSsm, 1 / total, losses);
        }
      }
      for (let b = 0; b < B && this.windowsPerChunk < 2; b++) {
        const ids = batch.ids.subarray(b * L, (b + 1) * L);
        // pass 1: chunk-start states; slot c holds the states entering chunk c (chunk 0: zeros)
        const convAt: H[][] = [Array(nLayer).fill(zeroConv)];
        const ssmAt: H[][] = [Array(nLayer).fill(zeroSsm)];
        for (let c = 0; c + 1 < nC; c++) {
          let res = await this.embed(Float32Array.from(ids.subarray(c * T, (c + 1) * T)));
          const cs: H[] = [], ss: H[] = [];
          for (let i = 0; i < nLayer; i++) {
            const f = await this.layerForward(i, res, T, convAt[c][i], ssmAt[c][i], false);
            cs.push(f.convOut!); // no window: a state comes out
            ss.push(f.hOut);
            const next = await dev.k('add', add2Kernel, [D, T], { C: D }, [res, f.hid]);
            free(res, f.hid);
            res = next;
          }
          free(res);
          convAt.push(cs);
          ssmAt.push(ss);
        }
        // carried state gradients per layer (from the chunk after; zero after the last)
        const dConv: H[] = [], dh: H[] = [];
        for (let i = 0; i < nLayer; i++) {
          dConv.push(await this.zeros((K - 1) * ED));
          dh.push(await this.zeros(ED * N));
        }
        // pass 2: chunks in reverse
        for (let c = nC - 1; c >= 0; c--) {
          const t0 = c * T;
          const Lc = Math.min(L, t0 + T) - t0;
          const targets = new Float32Array(Lc);
          for (let k = 0; k < Lc; k++) targets[k] = t0 + k + 1 < L ? ids[t0 + k + 1] : -1;
          await this.chunkStep(ids.subarray(t0, t0 + Lc), targets, convAt[c], ssmAt[c], dConv, dh, 1 / total, losses);
          if (c > 0) {
            for (let i = 0; i < nLayer; i++) {
              if (convAt[c][i] !== zeroConv) free(convAt[c][i]);
              if (ssmAt[c][i] !== zeroSsm) free(ssmAt[c][i]);
            }
          }
        }
        free(...dConv, ...dh);
      }
      // results back: per-token losses and hits, then the gradients
      let nllSum = 0, correct = 0;
      for (const x of losses) {
        const nll = await toFlat(x.nll, x.n);
        const hit = await toFlat(x.hit, x.n);
        for (let k = 0; k < x.n; k++) {
          nllSum += nll[k];
          correct += hit[k];
        }
      }
      const grads = await this.readGrads(weights);
      return { loss: nllSum / total, count: total, correct, grads };
    } finally {
      for (const x of losses) free(x.nll, x.hit);
    }
  }

  /**
   * nW whole windows of L tokens (ids (nW·L)) as one chunk of independent windows: forward, loss and
   * backward with every layer's conv and scan told the window length, so each window starts from a
   * zero state and no gradient crosses into the window before it. Same kernels, nW× fewer launches.
   */
  private async windowsChunk(ids: Uint8Array, L: number, nW: number, zeroConv: H, zeroSsm: H, scale: number,
    losses: Array<{ nll: H; hit: H; n: number }>): Promise<void> {
    const { ED, N, K, nLayer } = this.d;
    const targets = new Float32Array(nW * L);
    for (let k = 0; k < targets.length; k++) targets[k] = (k % L) + 1 < L ? ids[k + 1] : -1; // no target past a window's end
    const dConv: H[] = [], dh: H[] = []; // nothing is carried between windows: these stay unused zeros
    for (let i = 0; i < nLayer; i++) {
      dConv.push(await this.zeros((K - 1) * ED));
      dh.push(await this.zeros(ED * N));
    }
    await this.chunkStep(ids, targets, Array(nLayer).fill(zeroConv), Array(nLayer).fill(zeroSsm), dConv, dh, scale, losses, L);
    free(...dConv, ...dh);
  }

  /**
   * One chunk of pass 2: the forward over its ids keeping every layer's input residual and activations,
   * the loss on `targets` (−1: none), and the backward down through the layers into the gradient
   * accumulators. convIn/hIn: each layer's states entering the chunk; dConv/dh: the state gradients
   * carried in from the chunk after, replaced by the ones for the chunk before; win: independent
   * windows of that length (layerForward).
   */
  private async chunkStep(ids: Uint8Array, targets: Float32Array, convIn: H[], hIn: H[], dConv: H[], dh: H[], scale: number,
    losses: Array<{ nll: H; hit: H; n: number }>, win?: number): Promise<void> {
    const { D, V, nLayer } = this.d;
    const idsF = Float32Array.from(ids); // the chunk's ids, for the embedding and its backward
    const Lc = idsF.length;
    const resIn: H[] = [];
    const acts: Acts[] = [];
    let res = await this.embed(idsF);
    for (let i = 0; i < nLayer; i++) {
      const f = await this.layerForward(i, res, Lc, convIn[i], hIn[i], true, win);
      free(f.convOut, f.hOut);
      resIn.push(res);
      acts.push(f.acts!);
      res = await this.dev.k('add', add2Kernel, [D, Lc], { C: D }, [res, f.hid]);
      free(f.hid);
    }
    let g = await this.top(res, Lc, targets, scale, losses);
    free(res);
    for (let i = nLayer - 1; i >= 0; i--) {
      const r = await this.layerBackward(i, acts[i], resIn[i], Lc, g, convIn[i], hIn[i], dConv, dh, win);
      free(g, resIn[i]);
      freeActs(acts[i]);
      g = r;
    }
    this.g.embedding = await this.accSplit(this.g.embedding, 'embBwd', embBwdSplit, [D, V, Math.ceil(Lc / this.TS)], { L: Lc, D }, [idsF, g]);
    free(g);
  }

  /** Rows of the embedding for a chunk's ids (as floats: gpu.js arrays are float) → (Lc, D). */
  private embed(idsF: Float32Array): Promise<H> {
    const Lc = idsF.length;
    return this.dev.k('emb', embFwd, [this.d.D, Lc], { L: Lc, V: this.d.V, D: this.d.D }, [idsF, this.w.embedding]); // (Lc, D)
  }

  /** Layer i's mixer over Lc rows of its input residual `res`: hid (Lc, D), the states after the chunk, and (keep) its activations. */
  private async layerForward(i: number, res: H, Lc: number, convIn: H, hIn: H, keep: boolean, win?: number): Promise<{ hid: H; convOut: H | null; hOut: H; acts?: Acts }> {
    const { dev } = this;
    const { D, ED, N, R, K } = this.d;
    const w = this.w.layers[i];
    const fl = { floats: this.floats };
    const r = await dev.k('rstd', rstdKernel, [Lc], { L: Lc, D }, [res], fl); // (Lc)
    const xn = await dev.k('apply', applyKernel, [D, Lc], { L: Lc, D }, [res, r, w.norm], fl); // (Lc, D)
    const x = await this.linFwd(xn, w.inProjT, Lc, D, ED, 2 * ED); // (Lc, ED)
    const z = await this.linFwd(xn, w.inProjT, Lc, D, ED, 2 * ED, ED); // (Lc, ED)
    const conv = { L: Lc, C: ED, K };
    // (Lc, ED); with windows (win) every window starts from a zero conv state and none is carried out
    const xPre = win
      ? await dev.k('convWin', convFwdWin, [ED, Lc], { ...conv, LW: win, TS: 1 }, [x, w.convW, w.convB])
      : await dev.k('conv', convFwd, [ED, Lc], conv, [x, w.convW, w.convB, convIn]);
    const convOut = win ? null : await dev.k('convState', convStateOut, [ED, K - 1], conv, [x, convIn]); // (K-1, ED)
    const xc = await dev.k('silu', siluFwd, [ED, Lc], { C: ED }, [xPre]); // (Lc, ED)
    const xdbl = await this.linFwd(xc, w.xProjT, Lc, ED, R + 2 * N, R + 2 * N); // (Lc, R+2N)
    // dt_proj reads the δ-rank columns of x_proj's output in place (rows R+2N apart): no (Lc, R) copy
    const deltaRaw = await this.linFwd(xdbl, w.dtWT, Lc, R, ED, ED, 0, R + 2 * N); // (Lc, ED)
    const s = await dev.timed('scanForward', () => this.scan.fwd.run({
      L: Lc, ED, N, u: xc, deltaRaw, A: w.A, D: w.D, z, deltaBias: w.dtB, BC: xdbl, bcStride: R + 2 * N, bOffset: R, cOffset: R + N, h0: hIn,
      ...(win ? { window: win } : {}),
    }, { save: keep && this.shareScanTree })); // pass 2: the backward reuses δ and the forward tree
    await dev.submitted(8);
    const y = s.out as H; // (Lc, ED), padded to whole scan chunks
    const hOut = s.hL as H; // (ED, N)
    const hid = await this.linFwd(y, w.outProjT, Lc, ED, D, D); // (Lc, D)
    if (!keep) {
      free(r, xn, x, z, xPre, xc, xdbl, deltaRaw, y);
      return { hid, convOut, hOut };
    }
    return { hid, convOut, hOut, acts: { r, xn, x, z, xPre, xc, xdbl, deltaRaw, y, scan: s.saved ?? null } };
  }

  /** Final norm, head, cross-entropy (mean over `total` predictions) and its backward: ∂loss/∂(final residual) (Lc, D). */
  private async top(resF: H, Lc: number, targets: Float32Array, scale: number, losses: Array<{ nll: H; hit: H; n: number }>): Promise<H> {
    const { dev } = this;
    const { D, V } = this.d;
    const fl = { floats: this.floats };
    const r = await dev.k('rstd', rstdKernel, [Lc], { L: Lc, D }, [resF], fl);
    const hf = await dev.k('apply', applyKernel, [D, Lc], { L: Lc, D }, [resF, r, this.w.normF], fl); // (Lc, D)
    const logits = await this.linFwd(hf, this.w.headT, Lc, D, V, V); // (Lc, V)
    const lse = await dev.k('lse', lseKernel, [Lc], { V }, [logits]); // (Lc)
    losses.push({
      nll: await dev.k('nll', nllKernel, [Lc], { V }, [logits, lse, targets]),
      hit: await dev.k('hit', correctKernel, [Lc], { V }, [logits, targets]),
      n: Lc,
    });
    const dLogits = await dev.k('ceBwd', ceBwdKernel, [V, Lc], { V }, [logits, lse, targets, scale], {
      argumentTypes: { logits: 'Array', lse: 'Array', targets: 'Array', scale: 'Float' },
    }); // (Lc, V)
    const dHf = await this.linBwdX(dLogits, this.w.head, Lc, D, V); // (Lc, D)
    const S = Math.ceil(Lc / this.TS);
    if (this.g.lmHead) {
      this.g.lmHead = await this.linBwdW(this.g.lmHead, dLogits, hf, Lc, D, V, D);
    } else {
      this.g.embedding = await this.linBwdW(this.g.embedding, dLogits, hf, Lc, D, V, D);
    }
    const c = await dev.k('coef', coefKernel, [Lc], { L: Lc, D }, [resF, dHf, this.w.normF, r], fl);
    const g = await dev.k('normBwdX', bwdXKernel, [D, Lc], { L: Lc, D }, [resF, dHf, this.w.normF, r, c], fl); // (Lc, D)
    this.g.normF = await this.accSplit(this.g.normF, 'normBwdW', bwdWSplitKernel, [D, S], { L: Lc, D }, [resF, dHf, r]);
    free(r, hf, logits, lse, dLogits, dHf, c);
    return g;
  }

  /**
   * Backward of layer i over a chunk: g = ∂loss/∂(layer output residual) (Lc, D) in, ∂loss/∂(layer input
   * residual) out (the residual path plus the mixer's). dConv[i], dh[i] carry the state gradients.
   */
  private async layerBackward(i: number, a: Acts, res: H, Lc: number, g: H, convIn: H, hIn: H, dConv: H[], dh: H[], win?: number): Promise<H> {
    const { dev } = this;
    const { D, ED, N, R, K } = this.d;
    const w = this.w.layers[i];
    const gp = this.g.layers[i];
    const S = Math.ceil(Lc / this.TS);
    const fl = { floats: this.floats };
    // out_proj
    const dY = await this.linBwdX(g, w.outProj, Lc, ED, D); // (Lc, ED)
    gp.outProj = await this.linBwdW(gp.outProj, g, a.y, Lc, ED, D, ED);
    // selective scan (softplus with dt bias, D skip, SiLU(z) gate inside)
    const sg = await dev.timed('scanBackward', () => this.scan.bwd.runDevice({
      L: Lc, ED, N, u: a.xc, deltaRaw: a.deltaRaw, A: w.A, D: w.D, z: a.z, deltaBias: w.dtB, BC: a.xdbl, bcStride: R + 2 * N, bOffset: R, cOffset: R + N, h0: hIn,
      ...(win ? { window: win } : {}),
    }, dY, dh[i], a.scan ? { saved: a.scan } : {}));
    await dev.submitted(16);
    free(dY, dh[i]);
    dh[i] = sg.dh0 as H;
    const ALogNew = await dev.k('accProd', accumulateProductKernel, [ED * N], {}, [gp.ALog, sg.dA, w.A]); // dA_log = dA ⊙ A
    free(gp.ALog, sg.dA as H);
    gp.ALog = ALogNew;
    gp.D = await this.acc(gp.D, sg.dD as H, ED);
    gp.dtB = await this.acc(gp.dtB, sg.dDeltaBias as H, ED);
    // dt_proj (its bias is the scan's deltaBias)
    const dDtLow = await this.linBwdX(sg.dDeltaRaw as H, w.dtW, Lc, R, ED); // (Lc, R)
    gp.dtW = await this.linBwdW(gp.dtW, sg.dDeltaRaw as H, a.xdbl, Lc, R, ED, R + 2 * N);
    // x_proj over the whole (R+2N, ED) weight with [dδ_low | dB | dC] packed per row
    const W2 = R + 2 * N;
    const dXdbl = await dev.k('pack3', pack3Kernel, [W2, Lc], { W1: R, W2: N, W3: N }, [dDtLow, sg.dB, sg.dC]); // (Lc, R+2N)
    const dXc1 = await this.linBwdX(dXdbl, w.xProj, Lc, ED, W2); // (Lc, ED)
    gp.xProj = await this.linBwdW(gp.xProj, dXdbl, a.xc, Lc, ED, W2, ED);
    const dXc = await dev.k('add', add2Kernel, [ED, Lc], { C: ED }, [dXc1, sg.dU]); // (Lc, ED)
    free(dDtLow, dXdbl, dXc1, sg.dU as H, sg.dB as H, sg.dC as H, sg.dDeltaRaw as H);
    // SiLU after the conv, then the conv with its carried state
    const dXPre = await dev.k('siluBwd', siluBwd, [ED, Lc], { C: ED }, [a.xPre, dXc]); // (Lc, ED)
    free(dXc);
    const conv = { L: Lc, C: ED, K };
    let dX: H;
    if (win) { // independent windows: no state in or out
      dX = await dev.k('convBwdXWin', convBwdXWin, [ED, Lc], { ...conv, LW: win, TS: 1 }, [dXPre, w.convW]); // (Lc, ED)
      gp.convW = await this.accSplit(gp.convW, 'convBwdWWin', convBwdWSplitWin, [K, ED, S], { ...conv, LW: win }, [dXPre, a.x]);
    } else {
      dX = await dev.k('convBwdX', convBwdX, [ED, Lc], conv, [dXPre, w.convW, dConv[i]]); // (Lc, ED)
      const dState = await dev.k('convBwdState', convBwdState, [ED, K - 1], conv, [dXPre, w.convW, dConv[i]]); // (K-1, ED)
      free(dConv[i]);
      dConv[i] = dState;
      gp.convW = await this.convBwdW(gp.convW, dXPre, a.x, convIn, Lc, ED, K);
    }
    gp.convB = await this.accSplit(gp.convB, 'convBwdB', convBwdBSplit, [ED, S], conv, [dXPre]);
    free(dXPre);
    // in_proj over (2ED, D) with [dx | dz] packed per row
    const dXZ = await dev.k('pack2', pack2Kernel, [2 * ED, Lc], { W1: ED, W2: ED }, [dX, sg.dZ]); // (Lc, 2ED)
    free(dX, sg.dZ as H);
    const dXn = await this.linBwdX(dXZ, w.inProj, Lc, D, 2 * ED); // (Lc, D)
    gp.inProj = await this.linBwdW(gp.inProj, dXZ, a.xn, Lc, D, 2 * ED, D);
    free(dXZ);
    // pre-mixer RMSNorm, plus the residual path
    const c = await dev.k('coef', coefKernel, [Lc], { L: Lc, D }, [res, dXn, w.norm, a.r], fl);
    const out = await dev.k('normBwdXAdd', bwdXAddKernel, [D, Lc], { L: Lc, D }, [res, dXn, w.norm, a.r, c, g], fl); // (Lc, D)
    gp.norm = await this.accSplit(gp.norm, 'normBwdW', bwdWSplitKernel, [D, S], { L: Lc, D }, [res, dXn, a.r]);
    free(c, dXn);
    return out;
  }

  private async readGrads(weights: MambaWeights): Promise<MambaWeights> {
    const g = this.g;
    const rd = (h: H, like: Float32Array) => toFlat(h, like.length);
    const layers = [];
    for (let i = 0; i < weights.layers.length; i++) {
      const l = weights.layers[i], gl = g.layers[i];
      layers.push({
        norm: await rd(gl.norm, l.norm), inProj: await rd(gl.inProj, l.inProj), conv1dWeight: await rd(gl.convW, l.conv1dWeight),
        conv1dBias: await rd(gl.convB, l.conv1dBias), xProj: await rd(gl.xProj, l.xProj), dtProjWeight: await rd(gl.dtW, l.dtProjWeight),
        dtProjBias: await rd(gl.dtB, l.dtProjBias), ALog: await rd(gl.ALog, l.ALog), D: await rd(gl.D, l.D), outProj: await rd(gl.outProj, l.outProj),
      });
    }
    const out: MambaWeights = { embedding: await rd(g.embedding, weights.embedding), layers, normF: await rd(g.normF, weights.normF) };
    if (g.lmHead) out.lmHead = await rd(g.lmHead, weights.lmHead!);
    return out;
  }
}
