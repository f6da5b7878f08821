// Selective scan (Mamba-1, diagonal A) as gpu.js kernels: a hierarchical chunked scan in which every
// gpu.js thread writes one value. Same math as ref.ts (`selectiveScanRef`, mamba_ssm's
// `selective_scan_ref` with delta_softplus, delta_bias, D, z, plus h0); tolerance TOLERANCE.forward.
// Not a backward (the CPU backward in cpu.ts is the training path for now) and not gpu.js-free:
// the factory receives the gpu.js instance (kernels/ never imports gpu.js).
//
// Stages for one segment of LS tokens cut into NC = ⌈LS/T⌉ chunks of T tokens (slot j = 0 is a
// virtual chunk holding h0, slot j ≥ 1 is chunk j-1; that is how h0 is folded in):
//   δ       (LS, ED)          δ = softplus(deltaRaw + deltaBias), stable (gpu.js has no log1p)
//   S       (NC+1, ED, N)     chunk summaries: each chunk's end state from a zero start; S[0] = h0
//   W       (NC+1, ED)        Σδ over each chunk (the chunk's decay is exp(A·W), same for every n)
//   scan    ⌈log2(NC+1)⌉ Hillis–Steele passes on (W, S): S'[j] = S[j] + exp(A·W[j])·S[j-k],
//           W'[j] = W[j] + W[j-k]; after them S[j] = state at the start of chunk j, S[NC] = hL
//   out     (LS, ED)          per (t, d): replay chunk ⌊t/T⌋ from its start state up to t, N inside
//   hL      (ED, N)           copy of S[NC]
// The pair (decay, state) is kept as Σδ, not as a product or a cumulative sum: sums of positive δ
// lose nothing, while a global cumulative Σδ would cancel catastrophically in f32 at large L.
//
// Contract of `createSelectiveScanKernels(gpu, {ED, N, chunk})(args)`: the args of ref.ts, each a
// Float32Array or (webgpu, `pipeline` handles) a device handle; B and C may instead come packed as
// one (L, bcStride) tensor `BC` with B at column bOffset and C at cOffset (x_proj's output can be
// passed as is). Host inputs longer than one segment (binding limit, 128 MiB on lavapipe) are
// streamed in segments that carry the state. Device-handle inputs must fit one segment and return
// handles (immutable: the caller deletes them).
import { type GpuJsLike, kernelSettings } from '../gpujs-types.js';

type Thread3 = { thread: { x: number; y: number; z: number } };
type ScanConsts = { ED: number; N: number; T: number; NC: number; LS: number; BCS: number; BO: number; CO: number };
type K = Thread3 & { constants: ScanConsts };

// ---- kernel functions (gpu.js source: plain functions; indices inline, loop bounds constants) ----

/** (LS, ED): δ = softplus(raw + bias); log1p(e) by Kahan's trick log(w)·e/(w-1), w = 1 + e. */
export function deltaKernel(this: K, raw: number[], bias: number[]): number {
  const x = raw[this.thread.y * this.constants.ED + this.thread.x] + bias[this.thread.x];
  if (x > 20) return x;
  const e = Math.exp(-Math.abs(x));
  const w = 1 + e;
  let l = e;
  if (w !== 1) l = (Math.log(w) * e) / (w - 1);
  return Math.max(x, 0) + l;
}

/** (NC+1, ED): W[0] = 0, W[j] = Σ δ over chunk j-1. */
export function chunkDeltaSumKernel(this: K, delta: number[]): number {
  let s = 0;
  if (this.thread.y > 0) {
    for (let k = 0; k < this.constants.T; k++) {
      if ((this.thread.y - 1) * this.constants.T + k >= this.constants.LS) break;
      s += delta[((this.thread.y - 1) * this.constants.T + k) * this.constants.ED + this.thread.x];
    }
  }
  return s;
}

/** (NC+1, ED, N): S[0] = h0, S[j] = end state of chunk j-1 started from zero. */
export function chunkSummaryKernel(this: K, delta: number[], u: number[], A: number[], BC: number[], h0: number[]): number {
  if (this.thread.z === 0) return h0[this.thread.y * this.constants.N + this.thread.x];
  const a = A[this.thread.y * this.constants.N + this.thread.x];
  let h = 0;
  for (let k = 0; k < this.constants.T; k++) {
    if ((this.thread.z - 1) * this.constants.T + k >= this.constants.LS) break;
    const dl = delta[((this.thread.z - 1) * this.constants.T + k) * this.constants.ED + this.thread.y];
    h = Math.exp(dl * a) * h
      + dl * BC[((this.thread.z - 1) * this.constants.T + k) * this.constants.BCS + this.constants.BO + this.thread.x]
        * u[((this.thread.z - 1) * this.constants.T + k) * this.constants.ED + this.thread.y];
  }
  return h;
}

/** One Hillis–Steele pass on the states, offset k: S'[j] = S[j] + exp(A·W[j])·S[j-k] for j ≥ k. */
export function scanStatePassKernel(this: K, S: number[], W: number[], A: number[], k: number): number {
  const s = S[(this.thread.z * this.constants.ED + this.thread.y) * this.constants.N + this.thread.x];
  if (this.thread.z < k) return s;
  return s + Math.exp(A[this.thread.y * this.constants.N + this.thread.x] * W[this.thread.z * this.constants.ED + this.thread.y])
    * S[((this.thread.z - k) * this.constants.ED + this.thread.y) * this.constants.N + this.thread.x];
}

/** The same pass on the window sums: W'[j] = W[j] + W[j-k] for j ≥ k. */
export function scanDeltaPassKernel(this: K, W: number[], k: number): number {
  const w = W[this.thread.y * this.constants.ED + this.thread.x];
  if (this.thread.y < k) return w;
  return w + W[(this.thread.y - k) * this.constants.ED + this.thread.x];
}

/**
 * (LS, ED) as a (NC, T, ED) grid (thread.z = chunk c, thread.y = position k in it, so t = c·T + k
 * needs no division): replay chunk c from its start state S[c] up to t for each n, then
 * out = (Σ_n C_t[n]·h_t[n] + D·u_t)·silu(z_t). Rows t ≥ LS of the last chunk compute padding.
 */
export function chunkReplayOutputKernel(
  this: K, delta: number[], u: number[], A: number[], BC: number[], D: number[], z: number[], S: number[],
): number {
  let y = 0;
  for (let n = 0; n < this.constants.N; n++) {
    let h = S[(this.thread.z * this.constants.ED + this.thread.x) * this.constants.N + n];
    const a = A[this.thread.x * this.constants.N + n];
    for (let k = 0; k < this.constants.T; k++) {
      if (k > this.thread.y) break;
      const dl = delta[(this.thread.z * this.constants.T + k) * this.constants.ED + this.thread.x];
      h = Math.exp(dl * a) * h
        + dl * BC[(this.thread.z * this.constants.T + k) * this.constants.BCS + this.constants.BO + n]
          * u[(this.thread.z * this.constants.T + k) * this.constants.ED + this.thread.x];
    }
    y += BC[(this.thread.z * this.constants.T + this.thread.y) * this.constants.BCS + this.constants.CO + n] * h;
  }
  y += D[this.thread.x] * u[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x];
  const zt = z[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x];
  return (y * zt) / (1 + Math.exp(-zt));
}

/** (ED, N): hL = S[NC]. */
export function finalStateKernel(this: K, S: number[]): number {
  return S[(this.constants.NC * this.constants.ED + this.thread.y) * this.constants.N + this.thread.x];
}

/**
 * Naive baseline for the benchmark: one thread per (d, n) runs the whole recurrence over LS tokens
 * sequentially and returns only the final state (one output per thread rules out writing y here).
 */
export function naiveFinalStateKernel(this: K, raw: number[], bias: number[], u: number[], A: number[], BC: number[], h0: number[]): number {
  let h = h0[this.thread.y * this.constants.N + this.thread.x];
  const a = A[this.thread.y * this.constants.N + this.thread.x];
  for (let t = 0; t < this.constants.LS; t++) {
    const x = raw[t * this.constants.ED + this.thread.y] + bias[this.thread.y];
    let dl = x;
    if (x <= 20) {
      const e = Math.exp(-Math.abs(x));
      const w = 1 + e;
      let l = e;
      if (w !== 1) l = (Math.log(w) * e) / (w - 1);
      dl = Math.max(x, 0) + l;
    }
    h = Math.exp(dl * a) * h + dl * BC[t * this.constants.BCS + this.constants.BO + this.thread.x] * u[t * this.constants.ED + this.thread.y];
  }
  return h;
}

// ---- host-side driver ----

/** Float32Array or a device handle (anything gpu.js accepts as an argument). */
export type GpuTensor = Float32Array | { toArray(): unknown; delete(): void };

export interface GpuScanArgs {
  L: number;
  ED: number;
  N: number;
  u: GpuTensor; deltaRaw: GpuTensor; A: GpuTensor; D: GpuTensor; z: GpuTensor; deltaBias: GpuTensor;
  /** separate (L, N) B and C … */
  B?: GpuTensor;
  C?: GpuTensor;
  /** … or packed: (L, bcStride) with B at columns [bOffset, bOffset+N) and C at [cOffset, cOffset+N) */
  BC?: GpuTensor;
  bcStride?: number;
  bOffset?: number;
  cOffset?: number;
  h0?: GpuTensor | null;
}

export interface GpuScanOptions {
  ED: number;
  N: number;
  /** tokens per chunk (default 16; see docs/decisions/selective-scan.md) */
  chunk?: number;
  /** largest storage binding in bytes (adapter's maxStorageBufferBindingSize; default 128 MiB) */
  maxBindingBytes?: number;
  /** cap on tokens per segment (tests use it to force streaming) */
  maxSegment?: number;
}

export interface GpuScanResult {
  /** (L, ED): Float32Array for host inputs, a device handle for handle inputs */
  out: GpuTensor;
  /** (ED, N) */
  hL: GpuTensor;
}

const isHandle = (x: unknown): boolean => !!x && !ArrayBuffer.isView(x) && typeof (x as { toArray?: unknown }).toArray === 'function';

/** A gpu.js result (flat, nested 2-D/3-D, or a handle) as one flat Float32Array of n values. */
export async function toFlat(r: unknown, n: number): Promise<Float32Array> {
  let v: unknown = await r;
  if (isHandle(v)) v = await (v as { toArray(): unknown }).toArray();
  const flat = new Float32Array(n);
  let off = 0;
  const walk = (x: unknown): void => {
    if (off >= n) return;
    if (ArrayBuffer.isView(x)) {
      const a = x as Float32Array;
      const m = Math.min(a.length, n - off);
      flat.set(m === a.length ? a : a.subarray(0, m), off);
      off += m;
    } else for (const y of x as unknown[]) walk(y);
  };
  walk(v);
  if (off !== n) throw new Error(`selective scan: kernel returned ${off} values, expected ${n}`);
  return flat;
}

/** Largest segment (multiple of chunk) whose buffers fit one binding and whose grid fits gpu.js. */
export function segmentLength(ED: number, N: number, T: number, bcStride: number, maxBindingBytes: number, cap = Infinity): number {
  const maxElems = Math.floor(maxBindingBytes / 4);
  let chunks = Math.floor(Math.min(maxElems / (T * Math.max(ED, bcStride)), maxElems / (ED * N) - 1, 65534, 2 ** 31 / (T * ED * N)));
  chunks = Math.min(chunks, Math.max(1, Math.floor(cap / T)));
  if (chunks < 1) throw new RangeError(`selective scan: ED=${ED}, N=${N}, chunk=${T} do not fit a ${maxBindingBytes}-byte binding`);
  return chunks * T;
}

export function createSelectiveScanKernels(gpu: GpuJsLike, opts: GpuScanOptions) {
  const { ED, N } = opts;
  const T = opts.chunk ?? 16;
  if (!(Number.isInteger(T) && T > 0)) throw new RangeError(`selective scan: chunk = ${T} must be a positive integer`);
  const maxBindingBytes = opts.maxBindingBytes ?? 128 * 2 ** 20;
  const cache = new Map<string, any>();
  // gpu.js locks argument types and sizes at the first call: typed array, nested array (webasm
  // results) and device handle each need their own kernel instance
  const kinds = (...xs: unknown[]) => xs.map((x) => (isHandle(x) ? 'h' : ArrayBuffer.isView(x) ? 'a' : 'n')).join('');

  /** A kernel built once per (function, segment shape, argument kinds, role). */
  function kernel(name: string, fn: Function, output: number[], c: ScanConsts, argKinds: string, extra: Record<string, unknown> = {}) {
    const key = `${name}|${output.join('x')}|${c.LS}|${c.BCS},${c.BO},${c.CO}|${argKinds}|${JSON.stringify(extra)}`;
    let k = cache.get(key);
    if (!k) {
      k = gpu.createKernel(fn, { ...kernelSettings(output, c as unknown as Record<string, number>), ...extra });
      cache.set(key, k);
    }
    return k;
  }

  /** One segment: all inputs for tokens [0, LS) of it, h0 given. Returns device/host results. */
  async function segment(
    LS: number, s: { u: GpuTensor; raw: GpuTensor; z: GpuTensor; BC: GpuTensor; A: GpuTensor; D: GpuTensor; bias: GpuTensor; h0: GpuTensor },
    bc: { BCS: number; BO: number; CO: number }, keep: boolean, naive = false,
  ) {
    const NC = Math.ceil(LS / T);
    const c: ScanConsts = { ED, N, T, NC, LS, ...bc };
    const pipe = { pipeline: true };
    if (naive) {
      const kn = kernel('naive', naiveFinalStateKernel, [N, ED], c, kinds(s.raw, s.bias, s.u, s.A, s.BC, s.h0), { ...pipe, immutable: keep });
      return { hL: await kn(s.raw, s.bias, s.u, s.A, s.BC, s.h0), out: null };
    }
    const kd = kernel('delta', deltaKernel, [ED, LS], c, kinds(s.raw, s.bias), pipe);
    const delta = await kd(s.raw, s.bias);
    const kw = kernel('wsum', chunkDeltaSumKernel, [ED, NC + 1], c, 'h', pipe);
    let W = await kw(delta);
    const ks = kernel('summary', chunkSummaryKernel, [N, ED, NC + 1], c, kinds(s.u, s.A, s.BC, s.h0), pipe);
    let S = await ks(delta, s.u, s.A, s.BC, s.h0);
    let pass = 0;
    for (let k = 1; k < NC + 1; k *= 2, pass++) {
      // ping-pong: a kernel must not read the buffer it writes, and each reuses one output buffer
      const kp = kernel(`spass${pass % 2}`, scanStatePassKernel, [N, ED, NC + 1], c, kinds(s.A), { ...pipe, argumentTypes: { S: 'Array', W: 'Array', A: 'Array', k: 'Integer' } });
      const kq = kernel(`wpass${pass % 2}`, scanDeltaPassKernel, [ED, NC + 1], c, 'h', { ...pipe, argumentTypes: { W: 'Array', k: 'Integer' } });
      S = await kp(S, W, s.A, k);
      if (2 * k < NC + 1) W = await kq(W, k);
    }
    const ko = kernel('out', chunkReplayOutputKernel, [ED, T, NC], c, kinds(s.u, s.A, s.BC, s.D, s.z), { pipeline: keep, immutable: keep });
    const out = await ko(delta, s.u, s.A, s.BC, s.D, s.z, S);
    const kf = kernel('final', finalStateKernel, [N, ED], c, 'h', { ...pipe, immutable: keep });
    const hL = await kf(S);
    return { out, hL };
  }

  /**
   * Runs the scan. Host (Float32Array) inputs: any L, streamed in segments, returns Float32Arrays.
   * Handle inputs: one segment, returns handles (out padded to ⌈L/chunk⌉·chunk rows; read the
   * first L·ED values). `naive: true` runs the one-thread-per-(d, n) baseline (hL only).
   */
  // The intermediate buffers (δ, W, S, ping-pong passes) belong to the kernels and are reused by
  // every call: two calls in flight at once would overwrite each other's. Calls are queued.
  let queue: Promise<unknown> = Promise.resolve();
  function run(a: GpuScanArgs, runOpts: { naive?: boolean } = {}): Promise<GpuScanResult> {
    const next = queue.then(() => runNow(a, runOpts));
    queue = next.catch(() => undefined);
    return next;
  }

  async function runNow(a: GpuScanArgs, runOpts: { naive?: boolean }): Promise<GpuScanResult> {
    const { L } = a;
    if (a.ED !== ED || a.N !== N) throw new RangeError(`selective scan: kernels built for ED=${ED} N=${N}, called with ED=${a.ED} N=${a.N}`);
    const sizes: Array<[string, GpuTensor | null | undefined, number]> = [
      ['u', a.u, L * ED], ['deltaRaw', a.deltaRaw, L * ED], ['z', a.z, L * ED], ['A', a.A, ED * N], ['D', a.D, ED],
      ['deltaBias', a.deltaBias, ED], ['h0', a.h0, ED * N], ['B', a.B, L * N], ['C', a.C, L * N],
      ['BC', a.BC, L * (a.bcStride ?? 2 * N)],
    ];
    for (const [name, x, n] of sizes) {
      if (x instanceof Float32Array && x.length !== n) throw new RangeError(`selective scan: ${name} has ${x.length} elements, expected ${n} for L=${L} ED=${ED} N=${N}`);
    }
    let BC = a.BC;
    let bcs = { BCS: a.bcStride ?? 2 * N, BO: a.bOffset ?? 0, CO: a.cOffset ?? N };
    if (!BC) {
      if (!(a.B instanceof Float32Array && a.C instanceof Float32Array)) throw new RangeError('selective scan: pass B and C as Float32Arrays, or packed as BC (device handles must be packed)');
      const packed = new Float32Array(L * 2 * N); // (L, 2N): B then C per token
      for (let t = 0; t < L; t++) {
        packed.set(a.B.subarray(t * N, t * N + N), t * 2 * N);
        packed.set(a.C.subarray(t * N, t * N + N), t * 2 * N + N);
      }
      BC = packed;
      bcs = { BCS: 2 * N, BO: 0, CO: N };
    }
    const h0 = a.h0 ?? new Float32Array(ED * N);
    const device = [a.u, a.deltaRaw, a.z, BC].some(isHandle);
    const LSmax = segmentLength(ED, N, T, bcs.BCS, maxBindingBytes, opts.maxSegment);
    if (device) {
      if (L > LSmax) throw new RangeError(`selective scan: L=${L} exceeds one segment (${LSmax} tokens) for device inputs; stream it in calls carrying hL`);
      const r = await segment(L, { u: a.u, raw: a.deltaRaw, z: a.z, BC, A: a.A, D: a.D, bias: a.deltaBias, h0 }, bcs, true, runOpts.naive);
      return { out: r.out as GpuTensor, hL: r.hL as GpuTensor };
    }
    const host = [a.u, a.deltaRaw, a.z, BC] as Float32Array[];
    const out = new Float32Array(L * ED);
    let h: GpuTensor = h0;
    for (let t0 = 0; t0 < L || t0 === 0; t0 += LSmax) {
      const LS = Math.min(LSmax, L - t0);
      if (LS === 0) break;
      const [u, raw, z, bc] = host.map((x, i) => x.subarray(t0 * (i === 3 ? bcs.BCS : ED), (t0 + LS) * (i === 3 ? bcs.BCS : ED)));
      const r = await segment(LS, { u, raw, z, BC: bc, A: a.A, D: a.D, bias: a.deltaBias, h0: h }, bcs, false, runOpts.naive);
      if (r.out) out.set(await toFlat(r.out, LS * ED), t0 * ED);
      h = r.hL as GpuTensor;
    }
    const hL = L === 0 ? Float32Array.from(h0 as Float32Array) : await toFlat(h, ED * N);
    return { out, hL };
  }

  return { run, chunk: T, segmentLength: (bcStride = 2 * N) => segmentLength(ED, N, T, bcStride, maxBindingBytes, opts.maxSegment) };
}
