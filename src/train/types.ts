// The contract between the training loop (src/train/loop.ts, optimizer, schedule, checkpoints) and
// the gradient engine (src/train/grad.ts: forward + explicit backward through the Mamba LM).
import type { MambaConfig } from '../model/config.js';
import type { MambaWeights } from '../model/weights.js';

/** A batch of B token windows of equal length L (HyenaDNA ids), as the sampler draws them. */
export interface Batch {
  /** (B, L) row-major token ids */
  ids: Uint8Array;
  B: number;
  L: number;
}

export interface LossAndGrads {
  /** mean next-token cross-entropy in nats over the B·(L-1) predictions (targets = ids shifted by one) */
  loss: number;
  /** predictions scored: B·(L-1) */
  count: number;
  /** argmax(logits) == target count */
  correct: number;
  /** d loss / d parameter, same structure and shapes as the weights (tied head folded into embedding) */
  grads: MambaWeights;
}

/**
 * Computes the loss and its gradient for one batch. Implementations: the float64 reference
 * (gradients checked by finite differences) and the float32 engines per device.
 */
export type GradientFn = (config: MambaConfig, weights: MambaWeights, batch: Batch) => Promise<LossAndGrads>;
