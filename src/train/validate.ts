// Validation during training: bits per base of the current weights on held-out regions, through the
// forward model on a Backend (the same code path as `mamba-dna eval`, so the numbers agree with it).
import type { Backend } from '../backend/types.js';
import { evalRegion, summarize } from '../eval/eval.js';
import type { Genome, Region } from '../genome/types.js';
import type { MambaConfig } from '../model/config.js';
import { MambaModel } from '../model/mamba.js';
import type { MambaWeights } from '../model/weights.js';

export interface ValidationResult {
  loss: number;
  bitsPerBase: number;
  accuracy: number;
  predictions: number;
}

export type Validator = (config: MambaConfig, weights: MambaWeights) => Promise<ValidationResult>;

export function makeValidator(backend: Backend, genome: Genome, regions: readonly Region[], chunk: number): Validator {
  return async (config, weights) => {
    const model = await MambaModel.load(backend, config, weights);
    try {
      const results = [];
      for (const r of regions) results.push(await evalRegion(model, genome, r, { chunk }));
      const s = summarize(results);
      return { loss: s.lossNats, bitsPerBase: s.bitsPerBase, accuracy: s.accuracy, predictions: s.predictions };
    } finally {
      model.dispose();
    }
  };
}
