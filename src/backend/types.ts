// The small interface every compute device implements (cpu, wasm, webgpu). The model (src/model/)
// is written against it only; tensors are opaque handles that stay on their device between ops,
// and only `read` brings data back to JS.
//
// All activations are token-major: (L, C) row-major for one sequence. Weights keep PyTorch's layout
// (Linear: (out, in)). Ops are async because WebGPU kernel calls resolve asynchronously.

export type DeviceName = 'webgpu' | 'wasm' | 'cpu';

/** A tensor resident on a backend. Only the backend that made it may use it. */
export interface DTensor {
  readonly shape: readonly number[];
}

export interface Backend {
  readonly name: DeviceName;
  /** human description: adapter name, thread count */
  readonly description: string;

  upload(data: Float32Array, shape: readonly number[]): Promise<DTensor>;
  read(t: DTensor): Promise<Float32Array>;
  /** releases device memory; using t afterwards is an error */
  free(t: DTensor): void;

  /** rows of E (V, D) for ids (L) → (L, D) */
  embedding(ids: Uint8Array, E: DTensor): Promise<DTensor>;
  /** residual' = x + residual (residual absent: residual' = x); normed = rmsnorm(residual') ⊙ w */
  addRmsNorm(x: DTensor, residual: DTensor | null, w: DTensor, eps: number): Promise<{ residual: DTensor; normed: DTensor }>;
  /** x (L, in) · W(out, in)ᵀ → (L, out); `rows` takes W's rows [r0, r1) only (a slice of a fused projection) */
  linear(x: DTensor, W: DTensor, rows?: readonly [number, number]): Promise<DTensor>;
  /** causal depthwise conv (width K) + bias, then SiLU; state (K-1, C) in, returns output and new state */
  conv1dSilu(x: DTensor, w: DTensor, b: DTensor, state: DTensor): Promise<{ y: DTensor; state: DTensor }>;
  /** the selective scan with softplus(deltaRaw + deltaBias), D skip and SiLU(z) gate; state h (ED, N) in/out */
  selectiveScan(args: {
    u: DTensor; deltaRaw: DTensor; A: DTensor; B: DTensor; C: DTensor; D: DTensor; z: DTensor; deltaBias: DTensor; h: DTensor;
  }): Promise<{ y: DTensor; h: DTensor }>;
  /** log-softmax over the last dim of logits (L, V) and per-row NLL for targets (L), -1 = ignore */
  crossEntropy(logits: DTensor, targets: Int32Array): Promise<{ nll: Float64Array; correct: number }>;
  zeros(shape: readonly number[]): Promise<DTensor>;

  dispose(): Promise<void>;
}
