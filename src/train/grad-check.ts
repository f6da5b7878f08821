// Input checks shared by the gradient engines: the model must be one they differentiate (RMSNorm,
// weights matching the config) and the batch well-formed (B·L ids, L ≥ 2, ids inside the vocabulary).
// Throws InputError naming the problem and the fix; not a config validator (src/model/config.ts is).
import { InputError } from '../errors.js';
import type { MambaConfig } from '../model/config.js';
import { dims } from '../model/config.js';
import type { MambaWeights } from '../model/weights.js';
import { weightsProblem } from '../model/weights.js';
import type { Batch } from './types.js';
import type { ModelParams } from './grad-weights.js';

export function checkTrainable(config: MambaConfig, w: ModelParams<Float32Array | Float64Array>, batch: Batch): void {
  if (!config.rmsNorm) throw new InputError('training: this model uses LayerNorm (rms_norm: false); mamba-dna trains RMSNorm models only');
  const problem = weightsProblem(config, w as unknown as MambaWeights);
  if (problem) throw new InputError(`training: weights do not match the config: ${problem}`);
  const { B, L, ids } = batch;
  if (!(Number.isInteger(B) && B >= 1)) throw new InputError(`training batch: B = ${B} must be a positive integer`);
  if (!(Number.isInteger(L) && L >= 2)) throw new InputError(`training batch: L = ${L} must be an integer ≥ 2 (one prediction needs two tokens)`);
  if (ids.length !== B * L) throw new InputError(`training batch: ${ids.length} ids, expected B·L = ${B}·${L} = ${B * L}`);
  const V = dims(config).V;
  for (let k = 0; k < ids.length; k++) {
    if (ids[k] >= V) throw new InputError(`training batch: token id ${ids[k]} at sequence ${Math.floor(k / L)}, position ${k % L} is outside the vocabulary [0, ${V}); re-tokenize with the model's vocabulary`);
  }
}
