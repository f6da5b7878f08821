// conv1d — float32 CPU version of the causal depthwise conv with streaming state (forward, backward).
// Same contract and argument order as ref.ts (nn.Conv1d(groups=C, padding=K-1) truncated to L, plus
// causal_conv1d_update's state). Option `silu` applies SiLU to the output in the same pass (what the
// Mamba mixer does next); the backward is of the conv alone (apply silu's backward first).
// Layout trick: the weight is transposed to (K, C) so the inner loop over channels is contiguous.

/** The array holding row p of [stateIn; x] (p < 0: the state, or zeros at a sequence start). */
function rowSrc(x: Float32Array, state: Float32Array | null, zeros: Float32Array, p: number): Float32Array {
  return p >= 0 ? x : state ?? zeros;
}
/** That row's offset in the array rowSrc returned. */
function rowOff(state: Float32Array | null, p: number, C: number, K: number): number {
  return p >= 0 ? p * C : state ? (K - 1 + p) * C : 0;
}

export function conv1d(
  x: Float32Array, w: Float32Array, b: Float32Array | null, stateIn: Float32Array | null, L: number, C: number, K: number,
  opts: { silu?: boolean; y?: Float32Array; state?: Float32Array } = {},
): { y: Float32Array; state: Float32Array } {
  if (x.length < L * C) throw new RangeError(`conv1d: x has ${x.length} values, expected L*C = ${L}*${C}`);
  if (w.length < C * K) throw new RangeError(`conv1d: w has ${w.length} values, expected C*K = ${C}*${K}`);
  if (stateIn && stateIn.length < (K - 1) * C) throw new RangeError(`conv1d: state has ${stateIn.length} values, expected (K-1)*C = ${K - 1}*${C}`);
  const wT = new Float32Array(K * C); // (K, C)
  for (let c = 0; c < C; c++) for (let k = 0; k < K; k++) wT[k * C + c] = w[c * K + k];
  const zeros = new Float32Array(C);
  // caller-owned outputs avoid first-touch page faults of fresh memory (slow on this kind of VM)
  const y = opts.y ?? new Float32Array(L * C); // (L, C)
  const acc = new Float64Array(C);
  for (let t = 0; t < L; t++) {
    if (b) for (let c = 0; c < C; c++) acc[c] = b[c];
    else acc.fill(0);
    for (let k = 0; k < K; k++) {
      const p = t - K + 1 + k;
      const src = rowSrc(x, stateIn, zeros, p), off = rowOff(stateIn, p, C, K);
      const wo = k * C;
      for (let c = 0; c < C; c++) acc[c] += wT[wo + c] * src[off + c];
    }
    const yo = t * C;
    if (opts.silu) for (let c = 0; c < C; c++) { const v = acc[c]; y[yo + c] = v / (1 + Math.exp(-v)); }
    else for (let c = 0; c < C; c++) y[yo + c] = acc[c];
  }
  const state = opts.state ?? new Float32Array((K - 1) * C); // (K-1, C); must not alias stateIn
  for (let j = 0; j < K - 1; j++) {
    const p = L - (K - 1) + j;
      const src = rowSrc(x, stateIn, zeros, p), off = rowOff(stateIn, p, C, K);
    state.set(src.subarray(off, off + C), j * C);
  }
  return { y, state };
}

export function conv1dBackward(
  x: Float32Array, w: Float32Array, stateIn: Float32Array | null, dY: Float32Array, dStateOut: Float32Array | null,
  L: number, C: number, K: number, dXOut?: Float32Array,
): { dX: Float32Array; dW: Float32Array; dB: Float32Array; dState: Float32Array } {
  const wT = new Float32Array(K * C);
  for (let c = 0; c < C; c++) for (let k = 0; k < K; k++) wT[k * C + c] = w[c * K + k];
  const zeros = new Float32Array(C);
  const dX = dXOut ?? new Float32Array(L * C);
  const dState = new Float32Array((K - 1) * C);
  const dWT = new Float64Array(K * C); // (K, C), summed over L in float64
  const dB = new Float64Array(C);
  const acc = new Float64Array(C);
  for (let p = -(K - 1); p < L; p++) {
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const t = p + K - 1 - k;
      if (t < 0 || t >= L) continue;
      const wo = k * C, go = t * C;
      for (let c = 0; c < C; c++) acc[c] += wT[wo + c] * dY[go + c];
    }
    const j = p - L + K - 1;
    if (dStateOut && j >= 0) for (let c = 0; c < C; c++) acc[c] += dStateOut[j * C + c];
    if (p >= 0) for (let c = 0; c < C; c++) dX[p * C + c] = acc[c];
    else for (let c = 0; c < C; c++) dState[(K - 1 + p) * C + c] = acc[c];
  }
  for (let t = 0; t < L; t++) {
    const go = t * C;
    for (let c = 0; c < C; c++) dB[c] += dY[go + c];
    for (let k = 0; k < K; k++) {
      const p = t - K + 1 + k;
      const src = rowSrc(x, stateIn, zeros, p), off = rowOff(stateIn, p, C, K);
      const wo = k * C;
      for (let c = 0; c < C; c++) dWT[wo + c] += dY[go + c] * src[off + c];
    }
  }
  const dW = new Float32Array(C * K);
  for (let c = 0; c < C; c++) for (let k = 0; k < K; k++) dW[c * K + k] = dWT[k * C + c];
  return { dX, dW, dB: Float32Array.from(dB), dState };
}
