// Every tolerance the kernel tests assert, in one table: max relative error of a backend against the
// float64 reference, measured as max|got - ref| / max(max|ref|, tiny) per output tensor.
export const TOLERANCE = {
  /** float32 kernels (cpu, wasm, webgpu) vs the float64 reference, forward and backward */
  forward: 1e-4,
  backward: 1e-4,
  /** the float64 reference's gradient vs central finite differences (step 1e-6) */
  finiteDifference: 1e-6,
  /** the same float32 kernel run in pieces that carry state (streamed, chunked) vs one call: only
   *  rounding-order differences, so tighter than forward */
  streamed: 1e-5,
} as const;
