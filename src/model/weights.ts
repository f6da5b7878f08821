// MambaWeights: the model's parameters as plain named Float32Arrays (row-major, PyTorch's layouts),
// and the table that maps each one to its mamba_ssm state-dict name and shape.
//
// Follows MambaLMHeadModel's state_dict() (mamba_ssm/models/mixer_seq_simple.py, modules/mamba_simple.py):
//   backbone.embedding.weight (V, D) · backbone.layers.{i}.norm.weight (D) · .mixer.in_proj.weight (2·ED, D)
//   .mixer.conv1d.weight (ED, 1, K) · .mixer.conv1d.bias (ED) · .mixer.x_proj.weight (R+2N, ED)
//   .mixer.dt_proj.weight (ED, R) · .mixer.dt_proj.bias (ED) · .mixer.A_log (ED, N) · .mixer.D (ED)
//   .mixer.out_proj.weight (D, ED) · backbone.norm_f.weight (D) · lm_head.weight (V, D) when untied.
// It is not the forward pass (src/model/mamba.ts) and holds no device tensors.
import type { MambaConfig } from './config.js';
import { dims } from './config.js';

export interface LayerWeights {
  /** RMSNorm (or LayerNorm) weight before the mixer, (D) */
  norm: Float32Array;
  /** LayerNorm bias, (D); only when rmsNorm is false */
  normBias?: Float32Array;
  /** (2·ED, D): rows [0, ED) make x, rows [ED, 2·ED) make the gate z */
  inProj: Float32Array;
  /** depthwise conv taps, (ED, 1, K) on disk = (ED, K) row-major; tap K-1 multiplies the current step */
  conv1dWeight: Float32Array;
  /** (ED) */
  conv1dBias: Float32Array;
  /** (R+2N, ED): rows [0,R) → Δ low rank, [R,R+N) → B, [R+N,R+2N) → C */
  xProj: Float32Array;
  /** (ED, R) */
  dtProjWeight: Float32Array;
  /** (ED): Δ = softplus(dtProj·δ + dtProjBias) */
  dtProjBias: Float32Array;
  /** (ED, N): A = -exp(ALog) */
  ALog: Float32Array;
  /** (ED): skip connection y += D ⊙ u */
  D: Float32Array;
  /** (D, ED) */
  outProj: Float32Array;
}

export interface MambaWeights {
  /** (V, D) with V the padded vocabulary; also the LM head when tied */
  embedding: Float32Array;
  layers: LayerWeights[];
  /** final norm weight, (D) */
  normF: Float32Array;
  /** final LayerNorm bias, (D); only when rmsNorm is false */
  normFBias?: Float32Array;
  /** (V, D); only when tieEmbeddings is false */
  lmHead?: Float32Array;
}

export interface TensorSpec {
  /** mamba_ssm state-dict name */
  name: string;
  shape: number[];
  get(w: MambaWeights): Float32Array | undefined;
  set(w: MambaWeights, data: Float32Array): void;
}

type LayerKey = keyof LayerWeights;

/** Every tensor a checkpoint of this config holds, in state-dict order (embedding, layers, norm_f, head). */
export function tensorSpecs(cfg: MambaConfig): TensorSpec[] {
  const { D, ED, N, R, K, V, nLayer } = dims(cfg);
  const specs: TensorSpec[] = [
    { name: 'backbone.embedding.weight', shape: [V, D], get: (w) => w.embedding, set: (w, d) => { w.embedding = d; } },
  ];
  const layer = (i: number, suffix: string, key: LayerKey, shape: number[]): TensorSpec => ({
    name: `backbone.layers.${i}.${suffix}`,
    shape,
    get: (w) => w.layers[i]?.[key],
    set: (w, d) => {
      (w.layers[i] ??= {} as LayerWeights)[key] = d;
    },
  });
  for (let i = 0; i < nLayer; i++) {
    specs.push(
      layer(i, 'mixer.A_log', 'ALog', [ED, N]),
      layer(i, 'mixer.D', 'D', [ED]),
      layer(i, 'mixer.in_proj.weight', 'inProj', [2 * ED, D]),
      layer(i, 'mixer.conv1d.weight', 'conv1dWeight', [ED, 1, K]),
      layer(i, 'mixer.conv1d.bias', 'conv1dBias', [ED]),
      layer(i, 'mixer.x_proj.weight', 'xProj', [R + 2 * N, ED]),
      layer(i, 'mixer.dt_proj.weight', 'dtProjWeight', [ED, R]),
      layer(i, 'mixer.dt_proj.bias', 'dtProjBias', [ED]),
      layer(i, 'mixer.out_proj.weight', 'outProj', [D, ED]),
      layer(i, 'norm.weight', 'norm', [D]),
    );
    if (!cfg.rmsNorm) specs.push(layer(i, 'norm.bias', 'normBias', [D]));
  }
  specs.push({ name: 'backbone.norm_f.weight', shape: [D], get: (w) => w.normF, set: (w, d) => { w.normF = d; } });
  if (!cfg.rmsNorm) specs.push({ name: 'backbone.norm_f.bias', shape: [D], get: (w) => w.normFBias, set: (w, d) => { w.normFBias = d; } });
  if (!cfg.tieEmbeddings) specs.push({ name: 'lm_head.weight', shape: [V, D], get: (w) => w.lmHead, set: (w, d) => { w.lmHead = d; } });
  return specs;
}

/** The first mismatch between weights and config ("name: why"), or undefined when they agree. */
export function weightsProblem(cfg: MambaConfig, w: MambaWeights): string | undefined {
  if (w.layers.length !== cfg.nLayer) return `weights have ${w.layers.length} layers, config has n_layer ${cfg.nLayer}`;
  for (const s of tensorSpecs(cfg)) {
    const data = s.get(w);
    const want = s.shape.reduce((a, b) => a * b, 1);
    if (!data) return `${s.name}: missing`;
    if (data.length !== want) return `${s.name}: ${data.length} values, expected ${want} for shape [${s.shape.join(', ')}]`;
  }
  return undefined;
}

/** The logits matrix (V, D): the embedding when tied, else lmHead. */
export function headWeight(cfg: MambaConfig, w: MambaWeights): Float32Array {
  if (cfg.tieEmbeddings) return w.embedding;
  if (!w.lmHead) throw new Error('untied config without lm_head weights');
  return w.lmHead;
}
