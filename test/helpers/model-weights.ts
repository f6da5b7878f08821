// Seeded model weights with every parameter away from its special initial value, for gradient tests
// (as scripts/golden/make_golden.py's randomize): each parameter then moves the loss measurably.
import { dims, type MambaConfig } from '../../src/model/config.js';
import type { MambaWeights } from '../../src/model/weights.js';
import type { Batch } from '../../src/train/types.js';
import { zerosLike } from '../../src/train/grad-weights.js';
import { gaussian, mulberry32 } from './random.js';

export function randomWeights(cfg: MambaConfig, seed: number): MambaWeights {
  const rng = mulberry32(seed);
  const { D, ED, R } = dims(cfg);
  const w = zerosLike(cfg, (n) => new Float32Array(n));
  const fill = (a: Float32Array, f: () => number) => { for (let i = 0; i < a.length; i++) a[i] = f(); };
  const u = (bound: number) => () => (2 * rng() - 1) * bound;
  fill(w.embedding, () => 0.5 * gaussian(rng));
  if (w.lmHead) fill(w.lmHead, () => 0.5 * gaussian(rng));
  fill(w.normF, () => 1 + 0.2 * gaussian(rng));
  for (const l of w.layers) {
    fill(l.norm, () => 1 + 0.2 * gaussian(rng));
    fill(l.inProj, u(1 / Math.sqrt(D)));
    fill(l.conv1dWeight, u(0.5));
    fill(l.conv1dBias, u(0.5));
    fill(l.xProj, u(1 / Math.sqrt(ED)));
    fill(l.dtProjWeight, u(1 / Math.sqrt(R)));
    fill(l.dtProjBias, () => {
      const dt = Math.exp(Math.log(0.01) + rng() * (Math.log(1) - Math.log(0.01)));
      return dt + Math.log(-Math.expm1(-dt)); // softplus⁻¹(dt)
    });
    // |A| in [0.1, 2]: slow enough decay that the state carries over many steps, so the SSM's
    // parameters (A_log, dt_proj) get gradients well above rounding noise
    fill(l.ALog, () => Math.log(0.1 + 1.9 * rng()));
    fill(l.D, () => 1 + 0.5 * gaussian(rng));
    fill(l.outProj, u(1 / Math.sqrt(ED)));
  }
  return w as MambaWeights;
}

/** B windows of L DNA-like ids (A C G T N = 7..11, plus the odd special id below V) from a seed. */
export function randomBatch(B: number, L: number, seed: number, V = 12): Batch {
  const rng = mulberry32(seed);
  const ids = new Uint8Array(B * L);
  for (let k = 0; k < ids.length; k++) ids[k] = rng() < 0.9 ? 7 + Math.floor(rng() * 4) : Math.floor(rng() * V);
  return { ids, B, L };
}
