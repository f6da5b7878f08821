// `mamba-dna eval`: next-base cross-entropy (bits per base), perplexity and accuracy on genome regions.
import type { Command } from 'commander';
import { evalRegion, summarize, type EvalRegionResult } from '../../eval/eval.js';
import { writeOut } from '../io.js';
import {
  addDeviceOptions, addRegionOptions, chunkFor, closeModel, loadModel, openGenome, regionsFrom, tokenProgress,
  type DeviceFlags, type RegionFlags,
} from '../common.js';

interface EvalFlags extends DeviceFlags, RegionFlags {
  model: string;
  fasta: string;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('eval')
    .description('next-base prediction on genome regions: bits per base, perplexity, accuracy')
    .requiredOption('--model <dir>', 'model directory (config.json + model.safetensors)')
    .requiredOption('--fasta <fasta>', 'indexed FASTA (plain + .fai, or BGZF + .fai + .gzi)');
  addRegionOptions(cmd).option('--json', 'print JSON (summary and per region) instead of a table');
  addDeviceOptions(cmd).addHelpText('after', `
Cross-entropy is over the model's full (padded) vocabulary, as PyTorch's cross_entropy on mamba_ssm
logits; a region of L bases scores L-1 predictions (targets are its bases from the second on).
Uniform guessing over A/C/G/T is 2.0 bits per base.

Example:
  mamba-dna eval --model runs/lambda --fasta genome.fa --regions splits.bed --split test
`)
    .action(async (flags: EvalFlags) => {
      const genome = await openGenome(flags.fasta);
      let model;
      try {
        const regions = await regionsFrom(genome, flags);
        model = await loadModel(flags.model, flags);
        const progress = tokenProgress(regions.reduce((s, r) => s + (r.end - r.start), 0), 'eval');
        const results: EvalRegionResult[] = [];
        try {
          for (const r of regions) results.push(await evalRegion(model, genome, r, { chunk: chunkFor(model.backend, flags), onProgress: progress.tick }));
        } finally {
          progress.stop();
        }
        const s = summarize(results);
        const fmt = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : 'NaN');
        if (flags.json) {
          await writeOut(`${JSON.stringify({
            bitsPerBase: s.bitsPerBase, lossNats: s.lossNats, perplexity: s.perplexity, accuracy: s.accuracy, predictions: s.predictions,
            regions: s.regions.map((r) => ({ chrom: r.region.name, start: r.region.start, end: r.region.end, predictions: r.predictions, bitsPerBase: r.nllNats / r.predictions / Math.LN2, accuracy: r.correct / r.predictions })),
          }, null, 2)}\n`);
        } else {
          const lines = ['chrom\tstart\tend\tpredictions\tbits_per_base\taccuracy'];
          for (const r of s.regions) lines.push(`${r.region.name}\t${r.region.start}\t${r.region.end}\t${r.predictions}\t${fmt(r.nllNats / r.predictions / Math.LN2)}\t${fmt(r.correct / r.predictions)}`);
          lines.push(`total\t\t\t${s.predictions}\t${fmt(s.bitsPerBase)}\t${fmt(s.accuracy)}`);
          lines.push(`# bits per base ${fmt(s.bitsPerBase)}, perplexity ${fmt(s.perplexity)}, accuracy ${fmt(s.accuracy)}, loss ${fmt(s.lossNats)} nats`);
          await writeOut(`${lines.join('\n')}\n`);
        }
      } finally {
        await closeModel(model);
        await genome.close();
      }
    });
}
