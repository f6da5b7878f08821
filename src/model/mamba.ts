// The Mamba language model's forward pass (mamba_ssm's MambaLMHeadModel), written against the small
// Backend interface so it runs unchanged on cpu, wasm and webgpu. It is not a training graph:
// backward passes live beside it in the training code.
//
// Per layer (mixer_seq_simple.py Block with fused_add_norm, mamba_simple.py Mamba.forward):
//   residual = hidden + residual;  x_n = RMSNorm(residual)
//   x = x_n W_inᵀ[0:ED], z = x_n W_inᵀ[ED:2ED]            (L, ED) each
//   x = SiLU(causal depthwise conv1d(x) + b)               (L, ED)
//   δ_low, B, C = x W_xᵀ split [R | N | N]                (L, R), (L, N), (L, N)
//   δ_raw = δ_low W_dtᵀ                                    (L, ED)   (dt bias is added inside the scan)
//   y = selective_scan(x, δ_raw, A = -exp(A_log), B, C, D, z, dt bias)  (L, ED)
//   hidden = y W_outᵀ                                      (L, D)
// then residual += hidden, final RMSNorm, tied LM head: logits = h Eᵀ (L, V).
//
// Streaming: `forward` takes one chunk of tokens and a State (per layer: the last K-1 conv inputs and
// the (ED, N) SSM state) and returns the state after the chunk, so a sequence of any length runs in
// chunks with memory set by the chunk, and a chunk of one token is the recurrent step.
import type { Backend, DTensor } from '../backend/types.js';
import { InputError } from '../errors.js';
import type { MambaConfig, MambaDims } from './config.js';
import { dims } from './config.js';
import type { MambaWeights } from './weights.js';
import { headWeight } from './weights.js';

interface DeviceLayer {
  norm: DTensor;
  inProj: DTensor;
  convW: DTensor;
  convB: DTensor;
  xProj: DTensor;
  dtProjW: DTensor;
  dtProjB: DTensor;
  /** -exp(A_log), (ED, N) */
  A: DTensor;
  D: DTensor;
  outProj: DTensor;
}

/** Recurrent state carried between chunks: per layer, conv inputs (K-1, ED) and SSM state (ED, N). */
export interface ModelState {
  conv: DTensor[];
  ssm: DTensor[];
}

export class MambaModel {
  readonly dims: MambaDims;

  private constructor(
    readonly backend: Backend,
    readonly config: MambaConfig,
    private readonly embedding: DTensor,
    private readonly head: DTensor,
    private readonly normF: DTensor,
    private readonly layers: DeviceLayer[],
  ) {
    this.dims = dims(config);
  }

  /** Uploads the weights to the backend. A = -exp(A_log) is computed here once, in float64. */
  static async load(backend: Backend, config: MambaConfig, w: MambaWeights): Promise<MambaModel> {
    if (!config.rmsNorm) throw new InputError('this model uses LayerNorm (rms_norm: false); mamba-dna runs RMSNorm models only');
    const d = dims(config);
    const up = (a: Float32Array, shape: number[]) => backend.upload(a, shape);
    const embedding = await up(w.embedding, [d.V, d.D]);
    const head = config.tieEmbeddings ? embedding : await up(headWeight(config, w), [d.V, d.D]);
    const layers: DeviceLayer[] = [];
    for (const l of w.layers) {
      const A = new Float32Array(l.ALog.length);
      for (let i = 0; i < A.length; i++) A[i] = -Math.exp(l.ALog[i]);
      layers.push({
        norm: await up(l.norm, [d.D]),
        inProj: await up(l.inProj, [2 * d.ED, d.D]),
        convW: await up(l.conv1dWeight, [d.ED, d.K]),
        convB: await up(l.conv1dBias, [d.ED]),
        xProj: await up(l.xProj, [d.R + 2 * d.N, d.ED]),
        dtProjW: await up(l.dtProjWeight, [d.ED, d.R]),
        dtProjB: await up(l.dtProjBias, [d.ED]),
        A: await up(A, [d.ED, d.N]),
        D: await up(l.D, [d.ED]),
        outProj: await up(l.outProj, [d.D, d.ED]),
      });
    }
    return new MambaModel(backend, config, embedding, head, await up(w.normF, [d.D]), layers);
  }

  /** The state before the first token: zeros. */
  async initialState(): Promise<ModelState> {
    const { K, ED, N } = this.dims;
    const conv: DTensor[] = [];
    const ssm: DTensor[] = [];
    for (let i = 0; i < this.layers.length; i++) {
      conv.push(await this.backend.zeros([K - 1, ED]));
      ssm.push(await this.backend.zeros([ED, N]));
    }
    return { conv, ssm };
  }

  freeState(s: ModelState): void {
    for (const t of [...s.conv, ...s.ssm]) this.backend.free(t);
  }

  /**
   * One chunk of tokens (L ≥ 1) → final-norm hidden states (L, D), and the state after the chunk.
   * The input state is consumed (freed); use the returned one for the next chunk.
   */
  async forward(ids: Uint8Array, state: ModelState): Promise<{ hidden: DTensor; state: ModelState }> {
    const be = this.backend;
    const { ED, N, R } = this.dims;
    const eps = this.config.normEps;
    let hidden = await be.embedding(ids, this.embedding); // (L, D)
    let residual: DTensor | null = null;
    const next: ModelState = { conv: [], ssm: [] };
    for (let i = 0; i < this.layers.length; i++) {
      const p = this.layers[i];
      const { residual: res, normed } = await be.addRmsNorm(hidden, residual, p.norm, eps);
      be.free(hidden);
      if (residual) be.free(residual);
      residual = res;
      const xIn = await be.linear(normed, p.inProj, [0, ED]); // (L, ED)
      const z = await be.linear(normed, p.inProj, [ED, 2 * ED]); // (L, ED)
      be.free(normed);
      const conv = await be.conv1dSilu(xIn, p.convW, p.convB, state.conv[i]);
      be.free(xIn);
      next.conv.push(conv.state);
      const x = conv.y; // (L, ED)
      const dtLow = await be.linear(x, p.xProj, [0, R]); // (L, R)
      const Bm = await be.linear(x, p.xProj, [R, R + N]); // (L, N)
      const Cm = await be.linear(x, p.xProj, [R + N, R + 2 * N]); // (L, N)
      const deltaRaw = await be.linear(dtLow, p.dtProjW); // (L, ED)
      be.free(dtLow);
      const scan = await be.selectiveScan({ u: x, deltaRaw, A: p.A, B: Bm, C: Cm, D: p.D, z, deltaBias: p.dtProjB, h: state.ssm[i] });
      for (const t of [x, deltaRaw, Bm, Cm, z]) be.free(t);
      next.ssm.push(scan.h);
      hidden = await be.linear(scan.y, p.outProj); // (L, D)
      be.free(scan.y);
    }
    const { residual: res, normed } = await be.addRmsNorm(hidden, residual, this.normF, eps);
    be.free(hidden);
    if (residual) be.free(residual);
    be.free(res);
    this.freeState(state);
    return { hidden: normed, state: next };
  }

  /** LM head: (L, D) → logits (L, V). */
  logits(hidden: DTensor): Promise<DTensor> {
    return this.backend.linear(hidden, this.head);
  }

  dispose(): void {
    const seen = new Set<DTensor>();
    for (const t of [this.embedding, this.head, this.normF, ...this.layers.flatMap((l) => Object.values(l))]) {
      if (!seen.has(t)) this.backend.free(t);
      seen.add(t);
    }
  }
}
