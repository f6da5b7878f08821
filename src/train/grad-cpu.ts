// Float32 CPU gradient engine for the Mamba LM: the same forward/backward as the float64 reference
// (grad-ref.ts), run in chunks along L so memory is bounded by the chunk, not the sequence.
// Not the reference, and not a training loop (src/train/ has that).
// Kernels: where WebAssembly SIMD runs (kernels/wasm-simd.ts), the gemms (forward and both backward
// products) and the selective scan forward and backward run the SIMD kernels on buffers inside one
// WasmHeap (weights copied in per call); otherwise (or with kernels: 'ts') the TypeScript kernels.
// Threads: makeGradientsCpu splits a batch's windows over this thread and one worker
// (grad-cpu-worker.ts) and adds the two float64 sums in a fixed order; the sync entry points use one.
// Measured (docs/benchmarks.md, "Gradient engine on the CPU"): ≈ 9× the TypeScript-only engine on 2 cores.
//
// Backpropagation through time in chunks (activation checkpointing along L and across layers):
//   pass 1  forward over chunks 0..nC-2, all layers, keeping only each layer's conv state (K-1, ED) and
//           SSM state (ED, N) at every chunk start: (nC, nLayer, (K-1)·ED + ED·N) floats;
//   pass 2  chunks nC-1 down to 0: recompute the chunk's forward from the embedding and the stored
//           chunk-start states (keeping each layer's input residual stream, and either every internal
//           activation or — recomputeLayers — only those residuals, redoing each layer's internals
//           right before its backward), then the loss and the backward down through the layers.
//           Each layer carries ∂loss/∂(state at the chunk start) — the scan's dh0 and the conv's dState —
//           into the same layer's backward in the previous chunk, so the result is the exact gradient.
// The scan's own backward recomputes its states in sub-chunks of `scanChunk` tokens from the chunk-start
// states its forward saved (kernels/selective-scan/cpu.ts). Parameter gradients accumulate in float64.
//
// Memory for a sequence of L tokens, chunk T (float32): boundaries L/T·nLayer·((K-1)·ED + ED·N)·4 B
// plus activations T·(nLayer+1)·D·4 B and one (recomputeLayers) or nLayer sets of
// T·(2D + 6ED + R + 2N)·4 B. Default model (D 128, ED 256, N 16, 12 layers), T 4096: ≈ 230 KB per chunk
// start (60 MB at L = 2^20), 27 MB of residuals, 32 MB per internals set (12 sets exceed the 256 MiB
// budget, so layers are recomputed). Measured: L 4096 runs at ≈ 190 MiB RSS; docs/benchmarks.md.
import { conv1d, conv1dBackward } from '../../kernels/conv1d/cpu.js';
import { crossEntropy, crossEntropyBackward } from '../../kernels/cross-entropy/cpu.js';
import { embedding } from '../../kernels/embedding/cpu.js';
import { linear, linearBackward, type LinearBackwardBuffers } from '../../kernels/linear/cpu.js';
import { rmsNorm, rmsNormBackward } from '../../kernels/rms-norm/cpu.js';
import { allocGrads, selectiveScan, selectiveScanBackward } from '../../kernels/selective-scan/cpu.js';
import type { SelectiveScanArgs, SelectiveScanGrads } from '../../kernels/selective-scan/ref.js';
import { silu, siluBackward } from '../../kernels/silu/cpu.js';
import type { MambaConfig, MambaDims } from '../model/config.js';
import { dims } from '../model/config.js';
import type { LayerWeights, MambaWeights } from '../model/weights.js';
import { compileWasmKernel, WasmHeap, wasmSimdStatus } from '../../kernels/wasm-simd.js';
import { createGemmWasm, gemmScratchFloats, type GemmWasm } from '../../kernels/linear/wasm.js';
import {
  createSelectiveScanBackwardWasm, createSelectiveScanWasm, scanBackwardScratchFloats, type SelectiveScanBackwardWasm, type SelectiveScanWasm,
} from '../../kernels/selective-scan/wasm.js';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { checkTrainable } from './grad-check.js';
import { type LayerParams, type ModelParams, toFloat32, zerosLike } from './grad-weights.js';
import type { Batch, GradientFn, LossAndGrads } from './types.js';

export interface CpuGradOptions {
  /** tokens per chunk along L (default 4096; a sequence no longer than this runs in one chunk) */
  chunk?: number;
  /**
   * keep only each layer's input residual stream per chunk and recompute the layer's internals before
   * its backward (one more forward's work, nLayer× less activation memory). Default: recompute when
   * the kept internals of a chunk would exceed 256 MiB.
   */
  recomputeLayers?: boolean;
  /** sub-chunk of the selective scan's backward recompute (default 64) */
  scanChunk?: number;
  /** 'wasm' (default): the WebAssembly SIMD kernels where the runtime has them; 'ts': TypeScript only */
  kernels?: 'wasm' | 'ts';
  /**
   * makeGradientsCpu only: threads to split a batch's windows over (1 or 2; default 2 where the machine
   * has ≥ 2 cores and B ≥ 2). The second thread is a worker (grad-cpu-worker.ts) computing the last
   * ⌊B/2⌋ windows; the two float64 gradient sums are added in a fixed order, so results do not depend
   * on timing.
   */
  threads?: number;
}

/** The SIMD kernels on one shared heap, created on first use and kept (the heap's blocks are reused). */
interface Simd {
  heap: WasmHeap;
  gemm: GemmWasm;
  scan: SelectiveScanWasm;
  scanBackward: SelectiveScanBackwardWasm;
}
let simdCache: Simd | null | undefined;
function simdKernels(): Simd | null {
  if (simdCache !== undefined) return simdCache;
  if (!wasmSimdStatus().ok) return (simdCache = null);
  const heap = new WasmHeap(64 * 2 ** 20);
  const scan = compileWasmKernel('scan');
  simdCache = {
    heap, gemm: createGemmWasm(compileWasmKernel('gemm'), heap.memory), scan: createSelectiveScanWasm(scan, heap.memory),
    scanBackward: createSelectiveScanBackwardWasm(scan, heap.memory),
  };
  return simdCache;
}

/** One layer's internal activations over a chunk of up to T tokens (capacity T; views of Lc rows are used). */
interface Acts {
  xn: Float32Array; // (T, D)
  x: Float32Array; // (T, ED)
  z: Float32Array; // (T, ED)
  xPre: Float32Array; // (T, ED) conv output before SiLU
  xc: Float32Array; // (T, ED) scan input u
  dtLow: Float32Array; // (T, R)
  Bm: Float32Array; // (T, N)
  Cm: Float32Array; // (T, N)
  deltaRaw: Float32Array; // (T, ED)
  y: Float32Array; // (T, ED) gated scan output
  scanBounds: Float32Array | undefined; // (⌈Lc/scanChunk⌉, ED, N) for the scan's backward
}

function allocActs(T: number, d: MambaDims, f: (n: number) => Float32Array): Acts {
  const { D, ED, N, R } = d;
  return {
    xn: f(T * D), x: f(T * ED), z: f(T * ED), xPre: f(T * ED), xc: f(T * ED), dtLow: f(T * R), Bm: f(T * N), Cm: f(T * N),
    deltaRaw: f(T * ED), y: f(T * ED), scanBounds: undefined,
  };
}

/** Floats per token of one Acts set. */
const actsFloatsPerToken = (d: MambaDims) => 2 * d.D + 6 * d.ED + d.R + 2 * d.N;

const view = (a: Float32Array, n: number) => a.subarray(0, n);

function addInto(dst: Float64Array, src: Float32Array, n: number, off = 0): void {
  for (let k = 0; k < n; k++) dst[off + k] += src[k];
}

/**
 * (R, S) row-major → (S, R) in 32 × 32 tiles: the plain loop's strided writes miss the cache on every
 * element, which made the backward's transposes cost as much as its SIMD gemms.
 */
function transpose(src: Float32Array, R: number, S: number, out: Float32Array): Float32Array {
  const TB = 32;
  for (let r0 = 0; r0 < R; r0 += TB) {
    const r1 = Math.min(R, r0 + TB);
    for (let s0 = 0; s0 < S; s0 += TB) {
      const s1 = Math.min(S, s0 + TB);
      for (let r = r0; r < r1; r++) {
        const base = r * S;
        for (let s = s0; s < s1; s++) out[s * R + r] = src[base + s];
      }
    }
  }
  return out;
}

/** Everything one model needs during a call: weights, dims, precomputed A, scratch buffers. */
class Engine {
  readonly d: MambaDims;
  readonly T: number;
  readonly scanChunk: number;
  readonly recompute: boolean;
  readonly eps: number;
  readonly A: Float32Array[]; // per layer, -exp(A_log) computed in float64 (as MambaModel.load)
  readonly head: Float32Array;
  readonly g64: ModelParams<Float64Array>;
  readonly lb: LinearBackwardBuffers; // shared scratch for linearBackward
  readonly acts: Acts[]; // nLayer sets, or one shared set when recomputing
  readonly hid: Float32Array; // (T, D) a layer's mixer output
  readonly scanGrads: SelectiveScanGrads<Float32Array>;
  readonly dXdbl: Float32Array; // (T, R+2N)
  readonly dXZ: Float32Array; // (T, 2ED)
  readonly dXc: Float32Array; // (T, ED)
  readonly dXPre: Float32Array; // (T, ED)
  readonly dConvX: Float32Array; // (T, ED)
  readonly dNorm: Float32Array; // (T, D)
  readonly convScratch: Float32Array; // (K-1, ED): a state output nobody reads
  readonly ssmScratch: Float32Array; // (ED, N)
  readonly simd: Simd | null;
  readonly w: MambaWeights; // the caller's weights, or copies on the wasm heap
  private readonly blocks: Float32Array[] = []; // heap blocks to free in dispose()
  readonly gemmScratch: Float32Array | undefined;
  readonly WT: Float32Array; // a weight transposed, for linearBackward's dX
  readonly scanScratch: Float32Array | undefined; // the SIMD scan backward's recompute buffers

  /** n zeroed floats: on the wasm heap when the SIMD kernels run (their operands must live there). */
  alloc(n: number): Float32Array {
    if (!this.simd) return new Float32Array(n);
    const a = this.simd.heap.alloc(n);
    a.fill(0);
    this.blocks.push(a);
    return a;
  }

  /** Returns the heap blocks (call once, after the last use of anything the engine allocated). */
  dispose(): void {
    for (const b of this.blocks) this.simd!.heap.free(b);
    this.blocks.length = 0;
  }

  constructor(readonly config: MambaConfig, weights: MambaWeights, L: number, o: CpuGradOptions) {
    this.simd = o.kernels === 'ts' ? null : simdKernels();
    const copy = (a: Float32Array) => {
      if (!this.simd) return a;
      const b = this.alloc(a.length);
      b.set(a);
      return b;
    };
    this.w = {
      ...weights, embedding: copy(weights.embedding), normF: copy(weights.normF), lmHead: weights.lmHead && copy(weights.lmHead),
      layers: weights.layers.map((l) => ({
        ...l, norm: copy(l.norm), inProj: copy(l.inProj), conv1dWeight: copy(l.conv1dWeight), conv1dBias: copy(l.conv1dBias),
        xProj: copy(l.xProj), dtProjWeight: copy(l.dtProjWeight), dtProjBias: copy(l.dtProjBias), D: copy(l.D), outProj: copy(l.outProj),
      })),
    };
    const w = this.w;
    const d = (this.d = dims(config));
    const { D, ED, N, R, K, V, nLayer } = d;
    const chunk = o.chunk ?? 4096;
    if (!(Number.isInteger(chunk) && chunk >= 1)) throw new RangeError(`gradientsCpu: chunk = ${chunk} must be a positive integer`);
    this.T = Math.min(chunk, L);
    this.scanChunk = o.scanChunk ?? 64;
    this.recompute = o.recomputeLayers ?? nLayer * this.T * actsFloatsPerToken(d) * 4 > 256 * 2 ** 20;
    this.eps = config.normEps;
    this.A = w.layers.map((l) => {
      const a = this.alloc(l.ALog.length);
      for (let i = 0; i < a.length; i++) a[i] = -Math.exp(l.ALog[i]);
      return a;
    });
    this.head = config.tieEmbeddings ? w.embedding : w.lmHead!;
    this.g64 = zerosLike(config, (n) => new Float64Array(n));
    const T = this.T;
    const maxOut = Math.max(2 * ED, R + 2 * N, D, V);
    const maxIn = Math.max(D, ED, R);
    this.lb = {
      dX: this.alloc(T * maxIn), dW: this.alloc(Math.max(2 * ED * D, (R + 2 * N) * ED, V * D)),
      dYT: this.alloc(T * maxOut), xT: this.alloc(T * maxIn),
    };
    this.acts = [];
    for (let i = 0; i < (this.recompute ? 1 : nLayer); i++) this.acts.push(allocActs(T, d, (n) => this.alloc(n)));
    this.hid = this.alloc(T * D);
    const sg = allocGrads(0, 0, 0);
    for (const k of Object.keys(sg) as (keyof SelectiveScanGrads<Float32Array>)[]) {
      sg[k] = this.alloc(k === 'dA' || k === 'dh0' ? ED * N : k === 'dD' || k === 'dDeltaBias' ? ED : k === 'dB' || k === 'dC' ? T * N : T * ED);
    }
    this.scanGrads = sg; // on the heap: dDeltaRaw feeds a gemm
    this.dXdbl = this.alloc(T * (R + 2 * N));
    this.dXZ = this.alloc(T * 2 * ED);
    this.dXc = this.alloc(T * ED);
    this.dXPre = this.alloc(T * ED);
    this.dConvX = this.alloc(T * ED);
    this.dNorm = this.alloc(T * D);
    this.convScratch = this.alloc((K - 1) * ED);
    this.ssmScratch = this.alloc(ED * N);
    if (this.simd) for (const a of this.acts) a.scanBounds = this.alloc(Math.ceil(T / this.scanChunk) * ED * N);
    this.scanScratch = this.simd ? this.alloc(scanBackwardScratchFloats(this.scanChunk, ED, N)) : undefined;
    this.WT = this.alloc(Math.max(2 * ED * D, (R + 2 * N) * ED, V * D));
    // one scratch for every gemm: B packed in panels (N, K) — the largest is dW's (IN, L)
    this.gemmScratch = this.simd ? this.alloc(gemmScratchFloats(Math.max(2 * ED, R + 2 * N, D, V, ED), Math.max(T, 2 * ED, D))) : undefined;
  }

  /** y (Lc, OUT) = x (Lc, IN) · W (OUT, IN)ᵀ, as linear() in kernels/linear/cpu.ts. */
  lin(x: Float32Array, W: Float32Array, Lc: number, IN: number, OUT: number, out: Float32Array): Float32Array {
    if (!this.simd) return linear(x, W, null, Lc, IN, OUT, out);
    return this.simd.gemm.gemmABt(x, W, out, Lc, OUT, IN, null, false, this.gemmScratch!);
  }

  /** dX = dY·W (Lc, IN) and dW = dYᵀ·x (OUT, IN) in this.lb, as linearBackward() without a bias. */
  linBack(x: Float32Array, W: Float32Array, dY: Float32Array, Lc: number, IN: number, OUT: number): { dX: Float32Array; dW: Float32Array } {
    if (!this.simd) {
      const r = linearBackward(x, W, dY, Lc, IN, OUT, false, this.lb);
      return { dX: r.dX, dW: r.dW };
    }
    const { gemm } = this.simd;
    const lb = this.lb as Required<LinearBackwardBuffers>;
    const s = this.gemmScratch!;
    transpose(W, OUT, IN, this.WT); // (IN, OUT)
    gemm.gemmABt(dY, this.WT, lb.dX, Lc, IN, OUT, null, false, s);
    transpose(dY, Lc, OUT, lb.dYT); // (OUT, Lc)
    transpose(x, Lc, IN, lb.xT); // (IN, Lc)
    gemm.gemmABt(lb.dYT, lb.xT, lb.dW, OUT, IN, Lc, null, false, s);
    return { dX: lb.dX, dW: lb.dW };
  }

  /**
   * The scan forward (kernels/selective-scan/cpu.ts `selectiveScan` semantics). The SIMD kernel keeps no
   * chunk-start states, so with `chunk` it runs sub-chunk by sub-chunk and copies the state between.
   */
  scanForward(args: SelectiveScanArgs<Float32Array>, out: Float32Array, hL: Float32Array, chunk: number | undefined, boundsBuf: Float32Array | undefined): Float32Array | undefined {
    if (!this.simd) return selectiveScan(args, { out, hL, chunk }).boundaries;
    const { L, ED, N } = args;
    if (!chunk) {
      this.simd.scan(args, { out, hL });
      return undefined;
    }
    const bounds = boundsBuf!.subarray(0, Math.ceil(L / chunk) * ED * N); // (⌈L/chunk⌉, ED, N)
    for (let t0 = 0, c = 0; t0 < L; t0 += chunk, c++) {
      const t1 = Math.min(L, t0 + chunk);
      const h0 = c === 0 ? args.h0 : hL;
      if (h0) bounds.set(h0, c * ED * N);
      else bounds.fill(0, 0, ED * N);
      const rows = (a: Float32Array, w: number) => a.subarray(t0 * w, t1 * w);
      this.simd.scan(
        { ...args, L: t1 - t0, u: rows(args.u, ED), deltaRaw: rows(args.deltaRaw, ED), B: rows(args.B, N), C: rows(args.C, N), z: rows(args.z, ED), h0 },
        { out: rows(out, ED), hL },
      );
    }
    return bounds;
  }

  actsOf(i: number): Acts {
    return this.recompute ? this.acts[0] : this.acts[i];
  }

  /**
   * Layer i's mixer over Lc tokens of its input residual stream `res` → this.hid (Lc, D).
   * States: conv (K-1, ED) and SSM (ED, N) in; `convOut`/`hOut` receive the states after the chunk.
   * With `forBackward`, the scan also keeps its sub-chunk start states for selectiveScanBackward.
   */
  layerForward(i: number, res: Float32Array, Lc: number, convIn: Float32Array, hIn: Float32Array,
    convOut: Float32Array, hOut: Float32Array, forBackward: boolean): Acts {
    const { D, ED, N, R, K } = this.d;
    const p = this.w.layers[i];
    const a = this.actsOf(i);
    rmsNorm(res, p.norm, Lc, D, this.eps, a.xn);
    this.lin(a.xn, p.inProj.subarray(0, ED * D), Lc, D, ED, a.x);
    this.lin(a.xn, p.inProj.subarray(ED * D, 2 * ED * D), Lc, D, ED, a.z);
    conv1d(a.x, p.conv1dWeight, p.conv1dBias, convIn, Lc, ED, K, { y: a.xPre, state: convOut });
    silu(view(a.xPre, Lc * ED), a.xc);
    this.lin(a.xc, p.xProj.subarray(0, R * ED), Lc, ED, R, a.dtLow);
    this.lin(a.xc, p.xProj.subarray(R * ED, (R + N) * ED), Lc, ED, N, a.Bm);
    this.lin(a.xc, p.xProj.subarray((R + N) * ED, (R + 2 * N) * ED), Lc, ED, N, a.Cm);
    this.lin(a.dtLow, p.dtProjWeight, Lc, R, ED, a.deltaRaw);
    const bounds = this.scanForward(this.scanArgs(i, a, Lc, hIn), view(a.y, Lc * ED), hOut, forBackward ? this.scanChunk : undefined, a.scanBounds);
    if (!this.simd) a.scanBounds = bounds;
    this.lin(a.y, p.outProj, Lc, ED, D, this.hid);
    return a;
  }

  scanArgs(i: number, a: Acts, Lc: number, h0: Float32Array): SelectiveScanArgs<Float32Array> {
    const { ED, N } = this.d;
    const p = this.w.layers[i];
    return {
      L: Lc, ED, N, u: view(a.xc, Lc * ED), deltaRaw: view(a.deltaRaw, Lc * ED), A: this.A[i], B: view(a.Bm, Lc * N),
      C: view(a.Cm, Lc * N), D: p.D, z: view(a.z, Lc * ED), deltaBias: p.dtProjBias, h0,
    };
  }

  /**
   * Backward of layer i over the chunk given dHid (Lc, D). Updates the carried state gradients
   * (dConv (K-1, ED), dh (ED, N): in = from the chunk after, out = for the chunk before) and returns
   * ∂loss/∂res through the norm path in this.dNorm.
   */
  layerBackward(i: number, a: Acts, res: Float32Array, Lc: number, dHid: Float32Array, convIn: Float32Array,
    hIn: Float32Array, dConv: Float32Array, dh: Float32Array): Float32Array {
    const { D, ED, N, R, K } = this.d;
    const p: LayerWeights = this.w.layers[i];
    const gp: LayerParams<Float64Array> = this.g64.layers[i];
    // out_proj
    const o = this.linBack(a.y, p.outProj, dHid, Lc, ED, D);
    addInto(gp.outProj, o.dW, D * ED);
    const dY = view(this.dXc, Lc * ED); // borrow dXc as dY: the scan reads it before dXc is written
    dY.set(view(o.dX, Lc * ED));
    // selective scan (+ D skip, SiLU(z) gate, dt bias inside)
    const sg = this.scanGrads;
    sg.dB.fill(0);
    sg.dC.fill(0);
    sg.dD.fill(0);
    sg.dDeltaBias.fill(0);
    if (this.simd) {
      const boundaries = a.scanBounds!.subarray(0, Math.ceil(Lc / this.scanChunk) * ED * N);
      this.simd.scanBackward(this.scanArgs(i, a, Lc, hIn), dY, dh, { chunk: this.scanChunk, boundaries, grads: sg, scratch: this.scanScratch! });
    } else {
      selectiveScanBackward(this.scanArgs(i, a, Lc, hIn), dY, dh, { chunk: this.scanChunk, boundaries: a.scanBounds, grads: sg });
    }
    dh.set(sg.dh0);
    const A = this.A[i];
    for (let k = 0; k < ED * N; k++) gp.ALog[k] += sg.dA[k] * A[k]; // A = -exp(A_log): dA_log = dA ⊙ A
    addInto(gp.D, sg.dD, ED);
    addInto(gp.dtProjBias, sg.dDeltaBias, ED);
    // dt_proj (its bias is the scan's deltaBias)
    const dt = this.linBack(a.dtLow, p.dtProjWeight, sg.dDeltaRaw, Lc, R, ED);
    addInto(gp.dtProjWeight, dt.dW, ED * R);
    // x_proj: one backward over the whole (R+2N, ED) weight with [dδ_low | dB | dC] packed per row
    const W2 = R + 2 * N;
    const dXdbl = this.dXdbl;
    for (let t = 0; t < Lc; t++) {
      const o2 = t * W2;
      for (let r = 0; r < R; r++) dXdbl[o2 + r] = dt.dX[t * R + r];
      for (let n = 0; n < N; n++) {
        dXdbl[o2 + R + n] = sg.dB[t * N + n];
        dXdbl[o2 + R + N + n] = sg.dC[t * N + n];
      }
    }
    const xp = this.linBack(a.xc, p.xProj, dXdbl, Lc, ED, W2);
    addInto(gp.xProj, xp.dW, W2 * ED);
    const dXc = this.dXc;
    for (let k = 0; k < Lc * ED; k++) dXc[k] = xp.dX[k] + sg.dU[k];
    // SiLU after the conv, then the conv with its carried state
    siluBackward(view(a.xPre, Lc * ED), view(dXc, Lc * ED), this.dXPre);
    const cv = conv1dBackward(a.x, p.conv1dWeight, convIn, this.dXPre, dConv, Lc, ED, K, this.dConvX);
    dConv.set(cv.dState);
    addInto(gp.conv1dWeight, cv.dW, ED * K);
    addInto(gp.conv1dBias, cv.dB, ED);
    // in_proj: one backward over (2ED, D) with [dx | dz] packed per row
    const dXZ = this.dXZ;
    for (let t = 0; t < Lc; t++) {
      dXZ.set(cv.dX.subarray(t * ED, (t + 1) * ED), t * 2 * ED);
      dXZ.set(sg.dZ.subarray(t * ED, (t + 1) * ED), t * 2 * ED + ED);
    }
    const ip = this.linBack(a.xn, p.inProj, dXZ, Lc, D, 2 * ED);
    addInto(gp.inProj, ip.dW, 2 * ED * D);
    // pre-mixer RMSNorm (the residual add's copy is the caller's)
    const nb = rmsNormBackward(res, p.norm, view(ip.dX, Lc * D), Lc, D, this.eps, this.dNorm);
    addInto(gp.norm, nb.dW, D);
    return this.dNorm;
  }
}

/** A GradientFn with chosen chunking and threads (gradientsCpu uses the defaults). */
export function makeGradientsCpu(options: CpuGradOptions = {}): GradientFn {
  return async (config, weights, batch) => {
    const threads = options.threads ?? (availableParallelism() >= 2 ? 2 : 1);
    if (!(threads === 1 || threads === 2)) throw new RangeError(`gradientsCpu: threads = ${threads} must be 1 or 2`);
    const { B, L } = batch;
    if (threads === 1 || B < 2) return gradientsCpuSync(config, weights, batch, options);
    checkTrainable(config, weights, batch);
    const total = B * (L - 1);
    const B0 = Math.ceil(B / 2);
    const job: WorkerJob = { config, weights, ids: batch.ids.slice(B0 * L), B: B - B0, L, total, options: { ...options, threads: 1 } };
    const pending = runOnWorker(job); // the worker's half runs while this thread computes the first B0 windows
    let mine: Partial64;
    try {
      mine = lossAndGrads64(config, weights, { ids: batch.ids.subarray(0, B0 * L), B: B0, L }, total, options);
    } catch (err) {
      await pending.catch(() => undefined);
      throw err;
    }
    const theirs = await pending;
    addParams(mine.g64, theirs.g64);
    return { loss: (mine.nllSum + theirs.nllSum) / total, count: total, correct: mine.correct + theirs.correct, grads: toFloat32(mine.g64) };
  };
}

/** Float64 partial sums of the LM loss over some windows: Σ nll, correct predictions, Σ gradients (already ÷ total). */
export interface Partial64 {
  nllSum: number;
  correct: number;
  g64: ModelParams<Float64Array>;
}

/** What the worker thread is sent: the windows it computes, and the whole batch's prediction count. */
export interface WorkerJob {
  config: MambaConfig;
  weights: MambaWeights;
  ids: Uint8Array;
  B: number;
  L: number;
  total: number;
  options: CpuGradOptions;
}

/** dst += src, parameter by parameter (a fixed order: the sum does not depend on which thread ended first). */
function addParams(dst: ModelParams<Float64Array>, src: ModelParams<Float64Array>): void {
  const walk = (a: unknown, b: unknown): void => {
    if (a instanceof Float64Array) {
      const bb = b as Float64Array;
      for (let k = 0; k < a.length; k++) a[k] += bb[k];
    } else if (Array.isArray(a)) {
      a.forEach((x, i) => walk(x, (b as unknown[])[i]));
    } else if (a && typeof a === 'object') {
      for (const k of Object.keys(a).sort()) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]);
    }
  };
  walk(dst, src);
}

let worker: Worker | undefined;
let workerBusy = false;
/** Runs a job on the one gradient worker (created on first use; unref'd while idle so Node can exit). */
function runOnWorker(job: WorkerJob): Promise<Partial64> {
  if (workerBusy) return Promise.resolve(lossAndGrads64(job.config, job.weights, { ids: job.ids, B: job.B, L: job.L }, job.total, job.options));
  if (!worker) worker = new Worker(new URL('./grad-cpu-worker.js', import.meta.url));
  const w = worker;
  workerBusy = true;
  w.ref();
  return new Promise<Partial64>((resolve, reject) => {
    const done = () => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.unref();
      workerBusy = false;
    };
    const onMessage = (m: { ok: true; result: Partial64 } | { ok: false; message: string }) => {
      done();
      if (m.ok) resolve(m.result);
      else reject(new Error(`gradient worker: ${m.message}`));
    };
    const onError = (err: Error) => {
      done();
      worker = undefined;
      reject(err);
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.postMessage(job);
  });
}

export function gradientsCpuSync(config: MambaConfig, weights: MambaWeights, batch: Batch, options: CpuGradOptions = {}): LossAndGrads {
  checkTrainable(config, weights, batch);
  const total = batch.B * (batch.L - 1);
  const r = lossAndGrads64(config, weights, batch, total, options);
  return { loss: r.nllSum / total, count: total, correct: r.correct, grads: toFloat32(r.g64) };
}

/**
 * The LM loss and its gradients over the windows of `batch`, scaled as part of a batch of `total`
 * predictions (float64 sums: gradientsCpuSync and the worker threads' halves). Checks nothing.
 */
export function lossAndGrads64(config: MambaConfig, weights: MambaWeights, batch: Batch, total: number, options: CpuGradOptions = {}): Partial64 {
  const { L } = batch;
  const e = new Engine(config, weights, L, options);
  const { D, V } = e.d;
  const T = e.T;
  const hf = e.alloc(T * D);
  const logits = e.alloc(T * V);
  const dLogits = e.alloc(T * V);
  const targets = new Int32Array(T);
  const dHead64 = config.tieEmbeddings ? e.g64.embedding : e.g64.lmHead!;
  let nllSum = 0;
  let correct = 0;
  try {
    backpropChunked(e, batch, {
      top: (_b, ids, t0, Lc, resF) => {
        rmsNorm(resF, weights.normF, Lc, D, e.eps, hf);
        e.lin(hf, e.head, Lc, D, V, logits);
        for (let k = 0; k < Lc; k++) targets[k] = t0 + k + 1 < L ? ids[t0 + k + 1] : -1;
        const tg = targets.subarray(0, Lc);
        const ce = crossEntropy(logits, tg, Lc, V);
        for (let k = 0; k < Lc; k++) nllSum += ce.nll[k];
        correct += ce.correct;
        crossEntropyBackward(logits, tg, Lc, V, 1 / total, dLogits);
        // tied head (or lm_head)
        const hb = e.linBack(hf, e.head, dLogits, Lc, D, V);
        addInto(dHead64, hb.dW, V * D);
        return hb.dX;
      },
    });
  } finally {
    e.dispose();
  }
  return { nllSum, correct, g64: e.g64 };
}

/** What sits on top of the final residual stream: it returns ∂loss/∂(final-norm hidden) for a chunk. */
interface TopLoss {
  /** pass 1 only: the final residual of a full chunk of T rows starting at t0 (chunks 0..nC-2, in order) */
  seen?(b: number, t0: number, resF: Float32Array): void;
  /** pass 2 (chunks in reverse): ∂loss/∂hf for rows [t0, t0+Lc), at least Lc·D values */
  top(b: number, ids: Uint8Array, t0: number, Lc: number, resF: Float32Array, last: boolean): Float32Array;
}

/**
 * The chunked forward/backward through the backbone (embedding, layers, final RMSNorm), shared by the
 * LM loss and caller-supplied hidden-state losses. Parameter gradients accumulate into e.g64.
 */
function backpropChunked(e: Engine, batch: Batch, loss: TopLoss): void {
  const { w: weights } = e;
  const { B, L } = batch;
  const { D, ED, N, K, V, nLayer } = e.d;
  const T = e.T;
  const nC = Math.ceil(L / T);
  const CS = (K - 1) * ED;
  const SS = ED * N;
  // chunk-start states: slot (c, i); chunk 0's stay zero (a sequence start)
  const convStore = e.alloc(nC * nLayer * CS);
  const ssmStore = e.alloc(nC * nLayer * SS);
  const convAt = (c: number, i: number) => convStore.subarray((c * nLayer + i) * CS, (c * nLayer + i + 1) * CS);
  const ssmAt = (c: number, i: number) => ssmStore.subarray((c * nLayer + i) * SS, (c * nLayer + i + 1) * SS);
  const resBufs: Float32Array[] = []; // (T, D) per layer input + the final residual
  for (let i = 0; i <= nLayer; i++) resBufs.push(e.alloc(T * D));
  const dConv = Array.from({ length: nLayer }, () => new Float32Array(CS));
  const dh = Array.from({ length: nLayer }, () => e.alloc(SS));
  const g = e.alloc(T * D); // ∂loss/∂(residual stream) at the current layer
  const g64 = e.g64;

  for (let b = 0; b < B; b++) {
    const ids = batch.ids.subarray(b * L, (b + 1) * L);
    // pass 1: chunk-start states for chunks 1..nC-1
    for (let c = 0; c + 1 < nC; c++) {
      const t0 = c * T;
      const res = resBufs[0];
      embedding(ids.subarray(t0, t0 + T), weights.embedding, V, D, res);
      for (let i = 0; i < nLayer; i++) {
        e.layerForward(i, res, T, convAt(c, i), ssmAt(c, i), convAt(c + 1, i), ssmAt(c + 1, i), false);
        for (let k = 0; k < T * D; k++) res[k] += e.hid[k];
      }
      loss.seen?.(b, t0, res);
    }
    for (let i = 0; i < nLayer; i++) {
      dConv[i].fill(0);
      dh[i].fill(0);
    }
    // pass 2: chunks in reverse — recompute forward, loss, backward
    for (let c = nC - 1; c >= 0; c--) {
      const t0 = c * T;
      const Lc = Math.min(L, t0 + T) - t0;
      const n = Lc * D;
      embedding(ids.subarray(t0, t0 + Lc), weights.embedding, V, D, resBufs[0]);
      for (let i = 0; i < nLayer; i++) {
        // when recomputing, the top layer's internals are still in the shared set at its backward: keep them
        const keep = !e.recompute || i === nLayer - 1;
        e.layerForward(i, resBufs[i], Lc, convAt(c, i), ssmAt(c, i), e.convScratch, e.ssmScratch, keep);
        const r0 = resBufs[i], r1 = resBufs[i + 1];
        for (let k = 0; k < n; k++) r1[k] = r0[k] + e.hid[k];
      }
      const resF = resBufs[nLayer];
      const dHf = loss.top(b, ids, t0, Lc, resF, c === nC - 1);
      // final norm
      const nf = rmsNormBackward(resF, weights.normF, view(dHf, n), Lc, D, e.eps, g);
      addInto(g64.normF, nf.dW, D);
      for (let i = nLayer - 1; i >= 0; i--) {
        let a = e.actsOf(i);
        if (e.recompute && i < nLayer - 1) a = e.layerForward(i, resBufs[i], Lc, convAt(c, i), ssmAt(c, i), e.convScratch, e.ssmScratch, true);
        const dRes = e.layerBackward(i, a, resBufs[i], Lc, view(g, n), convAt(c, i), ssmAt(c, i), dConv[i], dh[i]);
        for (let k = 0; k < n; k++) g[k] += dRes[k];
      }
      // embedding scatter-add, straight into the float64 accumulator
      const dE = g64.embedding;
      for (let t = 0; t < Lc; t++) {
        const row = ids[t0 + t] * D;
        for (let k = 0; k < D; k++) dE[row + k] += g[t * D + k];
      }
    }
  }
}

/**
 * A loss on the final-norm hidden states h (L, D) of each sequence — e.g. a classification head on
 * the last position or the mean — used instead of the LM head + cross-entropy. The engine hands
 * each sequence's rows over in order, chunk by chunk, then asks for ∂loss/∂h chunk by chunk in
 * reverse, so a head that pools over the whole sequence never needs all L rows at once.
 */
export interface HiddenLoss {
  /** rows [t0, t0 + rows) of sequence b's final-norm hidden states (rows, D); t0 = 0, T, 2T, … */
  forward(b: number, t0: number, hidden: Float32Array, rows: number): void;
  /** every row of sequence b has been seen: compute its loss */
  finish(b: number): void;
  /** write ∂loss/∂h for rows [t0, t0 + rows) of sequence b into dHidden (rows, D), zeros where none */
  backward(b: number, t0: number, rows: number, dHidden: Float32Array): void;
}

/**
 * Gradients of a caller-supplied hidden-state loss (HiddenLoss) with respect to the backbone: the
 * embedding (input path only: no LM head term), every layer, and the final norm. The loss's own
 * parameters are the caller's. An untied lm_head gets a zero gradient. Same chunking as gradientsCpuSync.
 */
export function backboneGradientsCpuSync(config: MambaConfig, weights: MambaWeights, batch: Batch, loss: HiddenLoss, options: CpuGradOptions = {}): MambaWeights {
  checkTrainable(config, weights, batch);
  const e = new Engine(config, weights, batch.L, options);
  const D = e.d.D;
  const hf = e.alloc(e.T * D);
  const dHf = e.alloc(e.T * D);
  try {
    backpropChunked(e, batch, {
      seen: (b, t0, resF) => {
        rmsNorm(resF, weights.normF, e.T, D, e.eps, hf);
        loss.forward(b, t0, hf, e.T);
      },
      top: (b, _ids, t0, Lc, resF, last) => {
        if (last) {
          rmsNorm(resF, weights.normF, Lc, D, e.eps, hf);
          loss.forward(b, t0, view(hf, Lc * D), Lc);
          loss.finish(b);
        }
        const out = view(dHf, Lc * D);
        out.fill(0);
        loss.backward(b, t0, Lc, out);
        return out;
      },
    });
  } finally {
    e.dispose();
  }
  return toFloat32(e.g64);
}

export const gradientsCpu: GradientFn = makeGradientsCpu();
