// Next-base evaluation of a language model on genome regions: cross-entropy in bits per base
// (softmax over the full padded vocabulary, as PyTorch's F.cross_entropy on mamba_ssm logits),
// perplexity and accuracy. The target of position i is the region's base i+1, so a region of L
// bases scores L-1 predictions. Regions stream through the model in chunks carrying its state.
import type { Genome, Region } from '../genome/types.js';
import type { MambaModel } from '../model/mamba.js';
import { regionChunks } from '../data/region-chunks.js';

export interface EvalRegionResult {
  region: Region;
  predictions: number;
  /** summed negative log-likelihood in nats */
  nllNats: number;
  correct: number;
}

export interface EvalSummary {
  regions: EvalRegionResult[];
  predictions: number;
  bitsPerBase: number;
  perplexity: number;
  accuracy: number;
  /** mean cross-entropy in nats, as PyTorch reports the loss */
  lossNats: number;
}

export interface EvalOptions {
  /** tokens per forward chunk (memory is set by this, not by the region length) */
  chunk: number;
  onProgress?: (tokensDone: number) => void;
}

/** Scores one region; the model's state is carried across chunks. */
export async function evalRegion(model: MambaModel, genome: Genome, region: Region, opts: EvalOptions): Promise<EvalRegionResult> {
  const be = model.backend;
  let state = await model.initialState();
  let nll = 0;
  let correct = 0;
  let predictions = 0;
  // The last position of a chunk predicts the first token of the next one: read one chunk ahead.
  const chunks = regionChunks(genome, region, opts.chunk);
  const take = async () => {
    const r = await chunks.next();
    return r.done ? undefined : r.value.ids.slice();
  };
  let ids = await take();
  while (ids) {
    const next = await take();
    const L = ids.length;
    const targets = new Int32Array(L); // (L) next-base targets, -1 = none (end of region)
    for (let i = 0; i < L - 1; i++) targets[i] = ids[i + 1];
    targets[L - 1] = next ? next[0] : -1;
    const out = await model.forward(ids, state);
    state = out.state;
    const logits = await model.logits(out.hidden); // (L, V)
    be.free(out.hidden);
    const r = await be.crossEntropy(logits, targets);
    be.free(logits);
    for (let i = 0; i < L; i++) {
      if (targets[i] >= 0) {
        nll += r.nll[i];
        predictions++;
      }
    }
    correct += r.correct;
    opts.onProgress?.(L);
    ids = next;
  }
  model.freeState(state);
  return { region, predictions, nllNats: nll, correct };
}

export function summarize(results: EvalRegionResult[]): EvalSummary {
  let predictions = 0;
  let nll = 0;
  let correct = 0;
  for (const r of results) {
    predictions += r.predictions;
    nll += r.nllNats;
    correct += r.correct;
  }
  const lossNats = predictions > 0 ? nll / predictions : NaN;
  return {
    regions: results,
    predictions,
    lossNats,
    bitsPerBase: lossNats / Math.LN2,
    perplexity: Math.exp(lossNats),
    accuracy: predictions > 0 ? correct / predictions : NaN,
  };
}
