// Seeded initialisation of a Mamba LM, distribution for distribution as mamba_ssm does it:
//   Mamba.__init__ (mamba_ssm/modules/mamba_simple.py):
//     in_proj, x_proj, out_proj: nn.Linear default, kaiming_uniform(a=√5) = U(±1/√fan_in)
//     conv1d: nn.Conv1d default, weight and bias U(±1/√fan_in), fan_in = K (depthwise, groups = ED)
//     dt_proj.weight: U(±dt_scale·R^-½) ("random") or the constant dt_scale·R^-½
//     dt_proj.bias: softplus⁻¹(dt), dt = exp(U(log dt_min, log dt_max)) clamped at dt_init_floor
//     A_log = log(1..N) on every channel (S4D-real), D = 1
//   _init_weights (mamba_ssm/models/mixer_seq_simple.py), applied over the whole model:
//     Linear biases → 0 except dt_proj.bias (_no_reinit); Embedding ~ N(0, 0.02²);
//     out_proj.weight re-drawn kaiming-uniform then ÷ √(n_residuals_per_layer·n_layer), n_residuals = 1
//   Norm weights 1 (RMSNorm/LayerNorm), LayerNorm bias 0. A tied head is the embedding itself;
//   an untied lm_head keeps nn.Linear's default U(±1/√D).
// Not bit-identical to PyTorch's draws (a different generator): the same distributions, seeded with
// src/data/rng.ts (xoshiro128**), so a seed gives the same model on every platform.
import type { MambaConfig } from './config.js';
import { dims } from './config.js';
import { Rng } from '../data/rng.js';
import type { LayerWeights, MambaWeights } from './weights.js';

function uniform(rng: () => number, n: number, bound: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rng() - 1) * bound;
  return out;
}

function normal(rng: () => number, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - rng(); // (0, 1]: log(u) finite
    const v = rng();
    out[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

const filled = (n: number, v: number) => new Float32Array(n).fill(v);

/** softplus⁻¹(y) = y + log(-expm1(-y)), the stable form mamba_ssm uses (pytorch issue 72759). */
export function inverseSoftplus(y: number): number {
  return y + Math.log(-Math.expm1(-y));
}

export function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

/**
 * Fresh weights for cfg from a seed. Draw order is fixed (embedding, then per layer in_proj, conv1d
 * weight, conv1d bias, x_proj, dt_proj weight, dt bias, out_proj; then an untied head), so a seed
 * always gives the same model.
 */
export function initWeights(cfg: MambaConfig, seed = 0): MambaWeights {
  const { D, ED, N, R, K, V, nLayer } = dims(cfg);
  const gen = Rng.derive(seed);
  const rng = () => gen.nextFloat();
  const embedding = normal(rng, V * D, 0.02); // (V, D)
  const layers: LayerWeights[] = [];
  const logDtMin = Math.log(cfg.dtMin);
  const logDtMax = Math.log(cfg.dtMax);
  const dtStd = cfg.dtScale / Math.sqrt(R);
  for (let i = 0; i < nLayer; i++) {
    const inProj = uniform(rng, 2 * ED * D, 1 / Math.sqrt(D)); // (2·ED, D)
    const conv1dWeight = uniform(rng, ED * K, 1 / Math.sqrt(K)); // (ED, 1, K)
    const conv1dBias = uniform(rng, ED, 1 / Math.sqrt(K)); // (ED)
    const xProj = uniform(rng, (R + 2 * N) * ED, 1 / Math.sqrt(ED)); // (R+2N, ED)
    const dtProjWeight = cfg.dtInit === 'random' ? uniform(rng, ED * R, dtStd) : filled(ED * R, dtStd); // (ED, R)
    const dtProjBias = new Float32Array(ED); // (ED)
    for (let c = 0; c < ED; c++) {
      const dt = Math.max(Math.exp(rng() * (logDtMax - logDtMin) + logDtMin), cfg.dtInitFloor);
      dtProjBias[c] = inverseSoftplus(dt);
    }
    const outProj = uniform(rng, D * ED, 1 / Math.sqrt(ED) / Math.sqrt(nLayer)); // (D, ED), rescaled prenorm residual
    const ALog = new Float32Array(ED * N); // (ED, N)
    for (let c = 0; c < ED; c++) for (let n = 0; n < N; n++) ALog[c * N + n] = Math.log(n + 1);
    const layer: LayerWeights = {
      norm: filled(D, 1),
      inProj,
      conv1dWeight,
      conv1dBias,
      xProj,
      dtProjWeight,
      dtProjBias,
      ALog,
      D: filled(ED, 1),
      outProj,
    };
    if (!cfg.rmsNorm) layer.normBias = new Float32Array(D);
    layers.push(layer);
  }
  const w: MambaWeights = { embedding, layers, normF: filled(D, 1) };
  if (!cfg.rmsNorm) w.normFBias = new Float32Array(D);
  if (!cfg.tieEmbeddings) w.lmHead = uniform(rng, V * D, 1 / Math.sqrt(D));
  return w;
}
