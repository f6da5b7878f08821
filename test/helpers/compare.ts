// Comparison helpers for kernel tests: the error measure every TOLERANCE entry is stated in, and
// reading gpu.js results (typed arrays, nested rows, or device handles) back into one flat array.

/** Σ over the S partials of a (S, X) result (the split token reductions' second step, in float64). */
export function sumSplits(P: ArrayLike<number>, S: number, X: number): Float64Array {
  const out = new Float64Array(X);
  for (let s = 0; s < S; s++) for (let x = 0; x < X; x++) out[x] += P[s * X + x];
  return out;
}

/** max|got - ref| / max(max|ref|, 1e-30): one number per output tensor. */
export function maxRelErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) throw new Error(`length mismatch: got ${got.length}, expected ${ref.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    if (!(d <= maxDiff)) maxDiff = d; // NaN propagates as an infinite error
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
  }
  return Number.isNaN(maxDiff) ? Infinity : maxDiff / Math.max(maxRef, 1e-30);
}

/** A gpu.js result (number, typed array, array of rows / planes, handle, or a Promise of one) as one flat Float64Array. */
export async function readFlat(result: unknown): Promise<Float64Array> {
  let r: any = await result;
  if (r && typeof r.toArray === 'function') r = await r.toArray();
  const out: number[] = [];
  const walk = (v: any): void => {
    if (typeof v === 'number') out.push(v);
    else if (ArrayBuffer.isView(v)) {
      const a = v as unknown as ArrayLike<number>;
      for (let i = 0; i < a.length; i++) out.push(a[i]);
    }
    else for (const e of v) walk(e);
  };
  walk(r);
  return Float64Array.from(out);
}

export const f32 = (a: ArrayLike<number>): Float32Array => Float32Array.from(a);
export const f64 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a);

/**
 * Central finite-difference gradient of the scalar Σ dY · f() with respect to x (perturbed in place
 * and restored): what a float64 backward reference must reproduce.
 */
export function numericGrad(f: () => ArrayLike<number>, x: Float64Array, dY: ArrayLike<number>, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  const dot = (y: ArrayLike<number>): number => {
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * dY[i];
    return s;
  };
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + h;
    const up = dot(f());
    x[i] = keep - h;
    const down = dot(f());
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** Float32Arrays onto the device as gpu.js handles (webgpu `pipeline`, a fresh buffer each), through one copy kernel per length. */
export function deviceUploader(gpu: { createKernel: (fn: Function, settings: Record<string, unknown>) => any }): (x: Float32Array) => Promise<any> {
  const kernels = new Map<number, any>();
  return async (x: Float32Array) => {
    let k = kernels.get(x.length);
    if (!k) kernels.set(x.length, (k = gpu.createKernel(function (this: { thread: { x: number } }, v: number[]) { return v[this.thread.x]; }, { output: [x.length], pipeline: true, immutable: true })));
    return k(x);
  };
}
