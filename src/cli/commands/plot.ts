// `mamba-dna plot RUN_DIR [--out FILE.svg]`: training and validation curves of a pretrain run as SVG.
import type { Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InputError, UsageError } from '../../errors.js';
import { trainingPlotSvg } from '../../plot/training-plot.js';
import { METRICS_FILE, readMetrics } from '../../train/metrics.js';
import { logLine, writeOut } from '../io.js';

interface PlotFlags {
  out?: string;
  title?: string;
  reference?: string;
  smooth?: number;
}

async function runSummary(runDir: string): Promise<string | undefined> {
  try {
    const run = JSON.parse(await readFile(join(runDir, 'run.json'), 'utf8'));
    const m = run.model ?? {};
    const s = run.settings ?? {};
    return `${Number(run.parameters).toLocaleString('en-US')} parameters (d_model ${m.d_model}, n_layer ${m.n_layer}) · ${basename(String(s.fasta ?? '?'))} · ` +
      `seq-len ${s.seqLen}, batch ${s.batch}×${s.gradAccum} · lr ${s.lr} · ${s.steps} steps`;
  } catch {
    return undefined;
  }
}

export function register(program: Command): void {
  program
    .command('plot')
    .description('plot a pretrain run\'s training loss and validation bits per base vs step, as SVG')
    .argument('<run-dir>', 'run directory written by `mamba-dna pretrain --out` (reads its metrics.jsonl)')
    .option('--out <file.svg>', 'write the SVG here (default: stdout)')
    .option('--title <text>', 'chart title (default: the run directory name)')
    .option('--reference <bits[:label]>', 'draw a horizontal reference line, e.g. a known entropy rate: 1.62:entropy rate')
    .option('--smooth <n>', 'moving-average window over steps (default: steps/50)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`--smooth must be a positive integer, got '${v}'`);
      return n;
    })
    .action(async (runDir: string, flags: PlotFlags) => {
      const records = await readMetrics(join(runDir, METRICS_FILE));
      let reference: { value: number; label: string } | undefined;
      if (flags.reference !== undefined) {
        const [v, ...label] = flags.reference.split(':');
        const value = Number(v);
        if (!Number.isFinite(value)) throw new UsageError(`--reference '${flags.reference}': expected a number of bits per base, optionally :label`);
        reference = { value, label: label.join(':') || `reference ${value}` };
      }
      const svg = trainingPlotSvg(records, {
        title: flags.title ?? `mamba-dna pretrain: ${basename(resolve(runDir))}`,
        subtitle: await runSummary(runDir),
        reference,
        smooth: flags.smooth,
      });
      if (flags.out) {
        try {
          await writeFile(flags.out, svg);
        } catch (err) {
          throw new InputError(`cannot write ${flags.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
        logLine(`plot: ${records.filter((r) => r.type === 'train').length} training steps, ${records.filter((r) => r.type === 'valid').length} validations → ${flags.out}`);
      } else {
        await writeOut(svg);
      }
    });
}
