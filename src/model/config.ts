// The Mamba language-model configuration: camelCase fields in memory, mamba_ssm's names on disk.
//
// Follows mamba_ssm's MambaConfig (mamba_ssm/models/config_mamba.py) and the values Mamba.__init__ /
// MambaLMHeadModel.__init__ derive from it (mamba_simple.py, mixer_seq_simple.py): d_inner =
// expand·d_model, dt_rank = ceil(d_model/16) when "auto", vocab padded UP to a multiple of
// pad_vocab_size_multiple. It is not the model: no weights and no forward here.
//
// Shape letters: D d_model, ED expand·d_model, N d_state, R dt_rank, K d_conv, V vocab (padded).
import { InputError, UsageError } from '../errors.js';

export interface MambaConfig {
  dModel: number;
  nLayer: number;
  /** vocabulary as the tokenizer sees it (before padding) */
  vocabSize: number;
  dState: number;
  dConv: number;
  expand: number;
  /** 'auto' = ceil(dModel / 16) */
  dtRank: number | 'auto';
  rmsNorm: boolean;
  residualInFp32: boolean;
  fusedAddNorm: boolean;
  padVocabSizeMultiple: number;
  tieEmbeddings: boolean;
  /** RMSNorm/LayerNorm epsilon; mamba_ssm hard-codes 1e-5 (MixerModel's norm_epsilon) */
  normEps: number;
  /** dt initialisation (Mamba.__init__): softplus(dt_bias) starts log-uniform in [dtMin, dtMax], floored */
  dtMin: number;
  dtMax: number;
  dtInitFloor: number;
  dtScale: number;
  dtInit: 'random' | 'constant';
}

/** Derived sizes every consumer needs; computed once from a validated config. */
export interface MambaDims {
  D: number;
  ED: number;
  N: number;
  R: number;
  K: number;
  /** padded vocabulary: rows of the embedding and of the LM head */
  V: number;
  nLayer: number;
}

/** The DNA defaults: HyenaDNA's 12-token character vocabulary, a 1.4M-parameter model. */
export const DEFAULT_CONFIG: Readonly<MambaConfig> = Object.freeze({
  dModel: 128,
  nLayer: 12,
  vocabSize: 12,
  dState: 16,
  dConv: 4,
  expand: 2,
  dtRank: 'auto',
  rmsNorm: true,
  residualInFp32: true,
  fusedAddNorm: true,
  padVocabSizeMultiple: 8,
  tieEmbeddings: true,
  normEps: 1e-5,
  dtMin: 0.001,
  dtMax: 0.1,
  dtInitFloor: 1e-4,
  dtScale: 1.0,
  dtInit: 'random',
});

/** A full config from defaults plus overrides, validated (throws UsageError naming the field). */
export function makeConfig(overrides: Partial<MambaConfig> = {}): MambaConfig {
  const cfg: MambaConfig = { ...DEFAULT_CONFIG, ...overrides };
  const problem = configProblem(cfg);
  if (problem) throw new UsageError(`invalid model configuration: ${problem}`);
  return cfg;
}

export function resolvedDtRank(cfg: MambaConfig): number {
  return cfg.dtRank === 'auto' ? Math.ceil(cfg.dModel / 16) : cfg.dtRank;
}

/** vocab padded up to a multiple (MambaLMHeadModel.__init__): 12 with multiple 8 → 16 */
export function paddedVocabSize(cfg: MambaConfig): number {
  const m = cfg.padVocabSizeMultiple;
  const r = cfg.vocabSize % m;
  return r === 0 ? cfg.vocabSize : cfg.vocabSize + (m - r);
}

export function dims(cfg: MambaConfig): MambaDims {
  return {
    D: cfg.dModel,
    ED: cfg.expand * cfg.dModel,
    N: cfg.dState,
    R: resolvedDtRank(cfg),
    K: cfg.dConv,
    V: paddedVocabSize(cfg),
    nLayer: cfg.nLayer,
  };
}

/** Parameters per layer, as mamba_ssm's Block(Mamba) holds them (conv_bias=True, bias=False). */
export function layerParameterCount(cfg: MambaConfig): number {
  const { D, ED, N, R, K } = dims(cfg);
  return (
    2 * ED * D + // in_proj.weight (2·ED, D)
    ED * K + ED + // conv1d.weight (ED, 1, K), conv1d.bias (ED)
    (R + 2 * N) * ED + // x_proj.weight (R+2N, ED)
    ED * R + ED + // dt_proj.weight (ED, R), dt_proj.bias (ED)
    ED * N + // A_log (ED, N)
    ED + // D (ED)
    D * ED + // out_proj.weight (D, ED)
    D + (cfg.rmsNorm ? 0 : D) // norm.weight (+ norm.bias for LayerNorm)
  );
}

/**
 * Trainable parameters, counted as `sum(p.numel() for p in model.parameters())` on
 * MambaLMHeadModel: the padded embedding (V, D) once, the head only when untied (a tied head is the
 * same Parameter and PyTorch's parameters() yields it once).
 */
export function parameterCount(cfg: MambaConfig): number {
  const { D, V } = dims(cfg);
  const normF = cfg.rmsNorm ? D : 2 * D;
  return V * D + cfg.nLayer * layerParameterCount(cfg) + normF + (cfg.tieEmbeddings ? 0 : V * D);
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isPosFinite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** The first thing wrong with a config (field named with its camelCase name), or undefined. */
export function configProblem(cfg: MambaConfig): string | undefined {
  for (const f of ['dModel', 'nLayer', 'vocabSize', 'dState', 'dConv', 'expand', 'padVocabSizeMultiple'] as const) {
    if (!isPosInt(cfg[f])) return `${f} must be a positive integer, got ${JSON.stringify(cfg[f])}`;
  }
  if (cfg.dtRank !== 'auto' && !isPosInt(cfg.dtRank)) return `dtRank must be "auto" or a positive integer, got ${JSON.stringify(cfg.dtRank)}`;
  for (const f of ['rmsNorm', 'residualInFp32', 'fusedAddNorm', 'tieEmbeddings'] as const) {
    if (typeof cfg[f] !== 'boolean') return `${f} must be true or false, got ${JSON.stringify(cfg[f])}`;
  }
  for (const f of ['normEps', 'dtMin', 'dtMax', 'dtInitFloor', 'dtScale'] as const) {
    if (!isPosFinite(cfg[f])) return `${f} must be a positive number, got ${JSON.stringify(cfg[f])}`;
  }
  if (cfg.dtMin > cfg.dtMax) return `dtMin (${cfg.dtMin}) must not exceed dtMax (${cfg.dtMax})`;
  if (cfg.dtInit !== 'random' && cfg.dtInit !== 'constant') return `dtInit must be "random" or "constant", got ${JSON.stringify(cfg.dtInit)}`;
  // Sizes stay far below 2^31 elements per tensor so indices fit in int32 and f32-exact ranges.
  const { D, ED, V } = dims(cfg);
  if (2 * ED * D > 2 ** 28 || V * D > 2 ** 28) return `model too large (d_model ${D}, expand ${cfg.expand}, vocab ${V})`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// config.json: mamba_ssm's MambaConfig field names, so `MambaConfig(**json.load(f))` works in Python.

/** keys of ssm_cfg that mamba_ssm's Mamba(...) accepts and we understand */
const SSM_KEYS = new Set(['d_state', 'd_conv', 'expand', 'dt_rank', 'dt_min', 'dt_max', 'dt_init', 'dt_scale', 'dt_init_floor', 'conv_bias', 'bias', 'use_fast_path', 'layer']);
const TOP_KEYS = new Set([
  'd_model', 'n_layer', 'vocab_size', 'ssm_cfg', 'rms_norm', 'residual_in_fp32', 'fused_add_norm',
  'pad_vocab_size_multiple', 'tie_embeddings', 'norm_epsilon',
  // mamba_ssm ≥ 2 fields: accepted at their "plain Mamba-1 LM" values only
  'd_intermediate', 'attn_layer_idx', 'attn_cfg',
]);

/** The JSON object written as config.json (mamba_ssm 1.x/2.x field names; defaults left implicit where mamba_ssm's are ours). */
export function configToJson(cfg: MambaConfig): Record<string, unknown> {
  const ssm: Record<string, unknown> = { d_state: cfg.dState, d_conv: cfg.dConv, expand: cfg.expand };
  if (cfg.dtRank !== 'auto') ssm.dt_rank = cfg.dtRank;
  // init-only hyperparameters: written only when they differ from Mamba.__init__'s defaults
  if (cfg.dtMin !== DEFAULT_CONFIG.dtMin) ssm.dt_min = cfg.dtMin;
  if (cfg.dtMax !== DEFAULT_CONFIG.dtMax) ssm.dt_max = cfg.dtMax;
  if (cfg.dtInitFloor !== DEFAULT_CONFIG.dtInitFloor) ssm.dt_init_floor = cfg.dtInitFloor;
  if (cfg.dtScale !== DEFAULT_CONFIG.dtScale) ssm.dt_scale = cfg.dtScale;
  if (cfg.dtInit !== DEFAULT_CONFIG.dtInit) ssm.dt_init = cfg.dtInit;
  const out: Record<string, unknown> = {
    d_model: cfg.dModel,
    n_layer: cfg.nLayer,
    vocab_size: cfg.vocabSize,
    ssm_cfg: ssm,
    rms_norm: cfg.rmsNorm,
    residual_in_fp32: cfg.residualInFp32,
    fused_add_norm: cfg.fusedAddNorm,
    pad_vocab_size_multiple: cfg.padVocabSizeMultiple,
    tie_embeddings: cfg.tieEmbeddings,
  };
  // mamba_ssm's MambaConfig has no epsilon field (MixerModel uses 1e-5): only written when changed,
  // and then PyTorch users must pass norm_epsilon to MixerModel themselves.
  if (cfg.normEps !== DEFAULT_CONFIG.normEps) out.norm_epsilon = cfg.normEps;
  return out;
}

/** config.json text as written to disk (2-space indent, trailing newline). */
export function configToJsonText(cfg: MambaConfig): string {
  return `${JSON.stringify(configToJson(cfg), null, 2)}\n`;
}

/**
 * Parses a config.json object. Missing fields take mamba_ssm's dataclass defaults where they
 * matter to the weights' shapes (d_model, n_layer, vocab_size have none we could guess: required).
 * Throws InputError naming `source` and the field.
 */
export function configFromJson(json: unknown, source = 'config.json'): MambaConfig {
  const bad = (field: string, why: string) => new InputError(`${source}: field "${field}" ${why}`);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputError(`${source}: expected a JSON object`);
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!TOP_KEYS.has(k)) throw bad(k, `is not a mamba_ssm MambaConfig field this tool understands (known: ${[...TOP_KEYS].join(', ')})`);
  }
  const posInt = (obj: Record<string, unknown>, key: string, prefix: string, dflt?: number): number => {
    const v = obj[key];
    if (v === undefined) {
      if (dflt !== undefined) return dflt;
      throw bad(prefix + key, 'is missing (a positive integer is required)');
    }
    if (!isPosInt(v)) throw bad(prefix + key, `must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const bool = (key: string, dflt: boolean): boolean => {
    const v = o[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') throw bad(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const posNum = (obj: Record<string, unknown>, key: string, prefix: string, dflt: number): number => {
    const v = obj[key];
    if (v === undefined) return dflt;
    if (!isPosFinite(v)) throw bad(prefix + key, `must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  };

  if (o.d_intermediate !== undefined && o.d_intermediate !== 0) throw bad('d_intermediate', `must be 0 (MLP blocks are not supported), got ${JSON.stringify(o.d_intermediate)}`);
  if (o.attn_layer_idx !== undefined && !(Array.isArray(o.attn_layer_idx) && o.attn_layer_idx.length === 0)) throw bad('attn_layer_idx', 'must be empty (attention layers are not supported)');
  if (o.attn_cfg !== undefined && !(typeof o.attn_cfg === 'object' && o.attn_cfg !== null && !Array.isArray(o.attn_cfg) && Object.keys(o.attn_cfg).length === 0)) throw bad('attn_cfg', 'must be {} (attention layers are not supported)');

  const ssmRaw = o.ssm_cfg ?? {};
  if (typeof ssmRaw !== 'object' || ssmRaw === null || Array.isArray(ssmRaw)) throw bad('ssm_cfg', 'must be an object');
  const ssm = ssmRaw as Record<string, unknown>;
  for (const k of Object.keys(ssm)) {
    if (!SSM_KEYS.has(k)) throw bad(`ssm_cfg.${k}`, `is not a Mamba (v1) option this tool understands (known: ${[...SSM_KEYS].join(', ')})`);
  }
  if (ssm.layer !== undefined && ssm.layer !== 'Mamba1') throw bad('ssm_cfg.layer', `must be "Mamba1" (only Mamba-1 blocks are supported), got ${JSON.stringify(ssm.layer)}`);
  if (ssm.conv_bias !== undefined && ssm.conv_bias !== true) throw bad('ssm_cfg.conv_bias', 'must be true (the checkpoint layout has conv1d.bias)');
  if (ssm.bias !== undefined && ssm.bias !== false) throw bad('ssm_cfg.bias', 'must be false (in_proj/out_proj without bias)');
  if (ssm.use_fast_path !== undefined && typeof ssm.use_fast_path !== 'boolean') throw bad('ssm_cfg.use_fast_path', 'must be true or false');
  let dtRank: number | 'auto' = 'auto';
  if (ssm.dt_rank !== undefined && ssm.dt_rank !== 'auto') dtRank = posInt(ssm, 'dt_rank', 'ssm_cfg.');
  let dtInit: 'random' | 'constant' = 'random';
  if (ssm.dt_init !== undefined) {
    if (ssm.dt_init !== 'random' && ssm.dt_init !== 'constant') throw bad('ssm_cfg.dt_init', `must be "random" or "constant", got ${JSON.stringify(ssm.dt_init)}`);
    dtInit = ssm.dt_init;
  }

  const cfg: MambaConfig = {
    dModel: posInt(o, 'd_model', ''),
    nLayer: posInt(o, 'n_layer', ''),
    vocabSize: posInt(o, 'vocab_size', ''),
    dState: posInt(ssm, 'd_state', 'ssm_cfg.', 16),
    dConv: posInt(ssm, 'd_conv', 'ssm_cfg.', 4),
    expand: posInt(ssm, 'expand', 'ssm_cfg.', 2),
    dtRank,
    rmsNorm: bool('rms_norm', true),
    residualInFp32: bool('residual_in_fp32', true),
    fusedAddNorm: bool('fused_add_norm', true),
    padVocabSizeMultiple: posInt(o, 'pad_vocab_size_multiple', '', 8),
    tieEmbeddings: bool('tie_embeddings', true),
    normEps: posNum(o, 'norm_epsilon', '', 1e-5),
    dtMin: posNum(ssm, 'dt_min', 'ssm_cfg.', 0.001),
    dtMax: posNum(ssm, 'dt_max', 'ssm_cfg.', 0.1),
    dtInitFloor: posNum(ssm, 'dt_init_floor', 'ssm_cfg.', 1e-4),
    dtScale: posNum(ssm, 'dt_scale', 'ssm_cfg.', 1.0),
    dtInit,
  };
  if (cfg.dtMin > cfg.dtMax) throw bad('ssm_cfg.dt_min', `(${cfg.dtMin}) must not exceed ssm_cfg.dt_max (${cfg.dtMax})`);
  const problem = configProblem(cfg);
  if (problem) throw new InputError(`${source}: ${problem}`);
  return cfg;
}

/** Parses config.json text (JSON syntax errors become InputError naming the source). */
export function configFromJsonText(text: string, source = 'config.json'): MambaConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  return configFromJson(json, source);
}
