// Parameter-shaped containers for the gradient engine: MambaWeights with any array type (float64
// for the reference and its finite-difference checks, float32 for the engines' results), and the
// few whole-model operations the engines and tests need (convert, zeros, list tensors by name).
// It is not the optimizer and not the checkpoint table (src/model/weights.ts owns names and shapes).
import type { MambaConfig } from '../model/config.js';
import { dims } from '../model/config.js';
import type { LayerWeights, MambaWeights } from '../model/weights.js';

type FloatArray = Float32Array | Float64Array;

/** LayerWeights with arrays of type T (same names, shapes and row-major layouts). */
export type LayerParams<T extends FloatArray> = { [K in keyof LayerWeights]: LayerWeights[K] extends Float32Array ? T : T | undefined };

/** MambaWeights with arrays of type T. */
export interface ModelParams<T extends FloatArray> {
  embedding: T;
  layers: LayerParams<T>[];
  normF: T;
  normFBias?: T;
  lmHead?: T;
}

export type MambaWeights64 = ModelParams<Float64Array>;

const LAYER_KEYS = ['norm', 'normBias', 'inProj', 'conv1dWeight', 'conv1dBias', 'xProj', 'dtProjWeight', 'dtProjBias', 'ALog', 'D', 'outProj'] as const;

/** Applies `f` to every present tensor, keeping the structure. */
export function mapParams<S extends FloatArray, T extends FloatArray>(w: ModelParams<S>, f: (a: S) => T): ModelParams<T> {
  const layers = w.layers.map((l) => {
    const o = {} as Record<string, T | undefined>;
    for (const k of LAYER_KEYS) {
      const a = l[k];
      if (a) o[k] = f(a);
    }
    return o as unknown as LayerParams<T>;
  });
  const out: ModelParams<T> = { embedding: f(w.embedding), layers, normF: f(w.normF) };
  if (w.normFBias) out.normFBias = f(w.normFBias);
  if (w.lmHead) out.lmHead = f(w.lmHead);
  return out;
}

/** Every present tensor with a stable path name ('layers.3.inProj', 'embedding', …). */
export function listParams<T extends FloatArray>(w: ModelParams<T>): Array<[string, T]> {
  const out: Array<[string, T]> = [['embedding', w.embedding]];
  w.layers.forEach((l, i) => {
    for (const k of LAYER_KEYS) {
      const a = l[k];
      if (a) out.push([`layers.${i}.${k}`, a]);
    }
  });
  out.push(['normF', w.normF]);
  if (w.normFBias) out.push(['normFBias', w.normFBias]);
  if (w.lmHead) out.push(['lmHead', w.lmHead]);
  return out;
}

export const toFloat64 = (w: MambaWeights | ModelParams<FloatArray>): MambaWeights64 => mapParams(w as ModelParams<FloatArray>, (a) => Float64Array.from(a));
export const toFloat32 = (w: ModelParams<FloatArray>): MambaWeights => mapParams(w, (a) => Float32Array.from(a)) as MambaWeights;

/** Zeros shaped like the model's parameters for this config (RMSNorm; head only when untied). */
export function zerosLike<T extends FloatArray>(cfg: MambaConfig, make: (n: number) => T): ModelParams<T> {
  const { D, ED, N, R, K, V, nLayer } = dims(cfg);
  const layers: LayerParams<T>[] = [];
  for (let i = 0; i < nLayer; i++) {
    layers.push({
      norm: make(D), inProj: make(2 * ED * D), conv1dWeight: make(ED * K), conv1dBias: make(ED),
      xProj: make((R + 2 * N) * ED), dtProjWeight: make(ED * R), dtProjBias: make(ED), ALog: make(ED * N),
      D: make(ED), outProj: make(D * ED),
    } as LayerParams<T>);
  }
  const out: ModelParams<T> = { embedding: make(V * D), layers, normF: make(D) };
  if (!cfg.tieEmbeddings) out.lmHead = make(V * D);
  return out;
}
