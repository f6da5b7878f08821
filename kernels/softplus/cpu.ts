// softplus — float32 CPU version of the stable softplus (threshold 20) and its backward; contract in ref.ts.
import { SOFTPLUS_THRESHOLD } from './ref.js';

export function softplus(x: Float32Array, out: Float32Array = new Float32Array(x.length)): Float32Array {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    out[i] = v > SOFTPLUS_THRESHOLD ? v : Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
  }
  return out;
}

export function softplusBackward(x: Float32Array, dY: Float32Array, out: Float32Array = new Float32Array(x.length)): Float32Array {
  for (let i = 0; i < x.length; i++) out[i] = x[i] > SOFTPLUS_THRESHOLD ? dY[i] : dY[i] / (1 + Math.exp(-x[i]));
  return out;
}
