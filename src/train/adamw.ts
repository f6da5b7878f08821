// AdamW with decoupled weight decay, operation for operation as torch.optim.AdamW's single-tensor
// path (the one PyTorch takes for CPU tensors; torch/optim/adamw.py `_single_tensor_adamw`, torch 1.13
// as Debian ships it), in float32 with each tensor op rounded to float32 as PyTorch's CPU kernels round it:
//   p   ← p · (1 − lr·λ)                                  param.mul_(1 - lr * weight_decay)
//   m   ← m·β1 + g·(1−β1)                                  exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)  (add is a fused multiply-add)
//   v   ← v·β2 + ((1−β2)·g)·g                              exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  (last multiply-add fused)
//   bc1 = 1 − β1^t,  bc2 = 1 − β2^t                         (float64, as Python computes them)
//   den ← √v / √bc2 + ε                                    (exp_avg_sq.sqrt() / sqrt(bc2)).add_(eps)
//   p   ← p + ((−lr/bc1)·m) / den                          param.addcdiv_(exp_avg, denom, value=-lr/bc1)
// test/train/adamw.test.ts checks this against a trajectory PyTorch wrote (scripts/golden/make_adamw_golden.py).
// (bit-identical there; the fused/unfused choices above are what made it so). torch ≥ 2.0 computes m
// with lerp_ instead: the same value up to one float32 rounding.
//
// Parameter groups (decay / no decay) follow the usual Mamba/HyenaDNA practice: weight decay on the
// matrices of the mixers (in_proj, conv1d, x_proj, dt_proj, out_proj weights, an untied lm_head);
// none on the embedding (also the tied head), norm weights and biases, biases, A_log and D
// (mamba_ssm marks A_log and D `_no_weight_decay`).
import type { MambaConfig } from '../model/config.js';
import type { MambaWeights } from '../model/weights.js';
import { tensorSpecs } from '../model/weights.js';

const f = Math.fround;

export interface AdamWHyper {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const DEFAULT_ADAMW: Readonly<AdamWHyper> = Object.freeze({ beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });

/** Whether a mamba_ssm state-dict name gets weight decay. */
export function hasWeightDecay(name: string): boolean {
  if (name === 'backbone.embedding.weight') return false;
  if (name.endsWith('.bias')) return false;
  if (name.endsWith('norm.weight') || name.endsWith('norm_f.weight')) return false;
  if (name.endsWith('.A_log') || name.endsWith('.D')) return false;
  return true;
}

/** A parameter tensor and its gradient, by state-dict name. */
export interface NamedParam {
  name: string;
  param: Float32Array;
  decay: boolean;
}

/** Every trainable tensor of the model once (a tied head is the embedding), in state-dict order. */
export function namedParams(config: MambaConfig, weights: MambaWeights): NamedParam[] {
  return tensorSpecs(config).map((s) => {
    const param = s.get(weights);
    if (!param) throw new Error(`weights lack ${s.name}`);
    return { name: s.name, param, decay: hasWeightDecay(s.name) };
  });
}

/** The gradient tensors in the same order as namedParams (same structure as the weights). */
export function namedGrads(config: MambaConfig, grads: MambaWeights): Float32Array[] {
  return tensorSpecs(config).map((s) => {
    const g = s.get(grads);
    if (!g) throw new Error(`gradients lack ${s.name}`);
    return g;
  });
}

export interface AdamWState {
  /** optimizer steps taken (torch's state['step']) */
  step: number;
  expAvg: Map<string, Float32Array>;
  expAvgSq: Map<string, Float32Array>;
}

export class AdamW {
  step = 0;
  readonly expAvg = new Map<string, Float32Array>();
  readonly expAvgSq = new Map<string, Float32Array>();

  constructor(readonly hyper: AdamWHyper) {}

  /** Moment buffers for a parameter, created zero on first use (torch's lazy state init). */
  private buffers(p: NamedParam): [Float32Array, Float32Array] {
    let m = this.expAvg.get(p.name);
    let v = this.expAvgSq.get(p.name);
    if (!m || !v) {
      m = new Float32Array(p.param.length);
      v = new Float32Array(p.param.length);
      this.expAvg.set(p.name, m);
      this.expAvgSq.set(p.name, v);
    }
    if (m.length !== p.param.length || v.length !== p.param.length) throw new Error(`optimizer state for ${p.name} has ${m.length} values, parameter has ${p.param.length}`);
    return [m, v];
  }

  /** One update of every parameter in place with gradients `grads` (same order) at learning rate lr. */
  update(params: readonly NamedParam[], grads: readonly Float32Array[], lr: number): void {
    if (params.length !== grads.length) throw new Error(`${params.length} parameters, ${grads.length} gradients`);
    const { beta1, beta2, eps, weightDecay } = this.hyper;
    this.step += 1;
    const t = this.step;
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    const stepSize = f(-(lr / bc1));
    const bc2Sqrt = f(Math.sqrt(bc2));
    const b1 = f(beta1);
    const oneMinusB1 = f(1 - beta1);
    const b2 = f(beta2);
    const oneMinusB2 = f(1 - beta2);
    const epsF = f(eps);
    for (let i = 0; i < params.length; i++) {
      const p = params[i];
      const g = grads[i];
      const w = p.param;
      if (g.length !== w.length) throw new Error(`gradient of ${p.name} has ${g.length} values, parameter has ${w.length}`);
      const [m, v] = this.buffers(p);
      const decay = p.decay && weightDecay !== 0 ? f(1 - lr * weightDecay) : 1;
      for (let j = 0; j < w.length; j++) {
        const gj = g[j];
        let wj = decay === 1 ? w[j] : f(w[j] * decay);
        const mj = f(f(m[j] * b1) + gj * oneMinusB1);
        const vj = f(f(v[j] * b2) + f(oneMinusB2 * gj) * gj);
        const den = f(f(f(Math.sqrt(vj)) / bc2Sqrt) + epsF);
        wj = f(wj + f(f(stepSize * mj) / den));
        m[j] = mj;
        v[j] = vj;
        w[j] = wj;
      }
    }
  }

  state(): AdamWState {
    return { step: this.step, expAvg: this.expAvg, expAvgSq: this.expAvgSq };
  }

  restore(state: AdamWState): void {
    this.step = state.step;
    this.expAvg.clear();
    this.expAvgSq.clear();
    for (const [k, a] of state.expAvg) this.expAvg.set(k, a);
    for (const [k, a] of state.expAvgSq) this.expAvgSq.set(k, a);
  }
}

/**
 * torch.nn.utils.clip_grad_norm_(params, maxNorm) in float32: each tensor's L2 norm, the L2 norm of
 * those, and every gradient scaled in place by min(1, maxNorm / (norm + 1e-6)) (sums accumulate in
 * float64, results round to float32). Returns the norm before clipping; when it is not finite nothing
 * is scaled (the caller stops the run).
 */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number): number {
  let total = 0;
  for (const g of grads) {
    let sq = 0;
    for (let j = 0; j < g.length; j++) sq += g[j] * g[j];
    const n = f(Math.sqrt(sq));
    total += n * n;
  }
  const norm = f(Math.sqrt(total));
  if (!Number.isFinite(norm) || !(maxNorm > 0) || !Number.isFinite(maxNorm)) return norm;
  const coef = Math.min(1, f(f(maxNorm) / f(norm + f(1e-6))));
  if (coef < 1) for (const g of grads) for (let j = 0; j < g.length; j++) g[j] = f(g[j] * coef);
  return norm;
}
