// The gradient engine's public face: every GradientFn (src/train/types.ts) the training loop can pick.
//   gradientsRef  float64 reference, all activations kept (grad-ref.ts); for tests and tiny models
//   gradientsCpu  float32, one core, chunked along L with activation checkpointing (grad-cpu.ts)
// Both return the mean next-token cross-entropy over B·(L-1) predictions and d loss / d parameter,
// the tied LM head's gradient folded into the embedding's.
export { gradientsRef, gradientsRef64, type RefResult } from './grad-ref.js';
export { gradientsCpu, gradientsCpuSync, makeGradientsCpu, type CpuGradOptions } from './grad-cpu.js';
export { listParams, mapParams, toFloat32, toFloat64, zerosLike, type MambaWeights64, type ModelParams } from './grad-weights.js';
