// Order-k Markov baselines for held-out bits per base: what counting k-mers on the training bases
// scores on the test bases, to read a model's eval number against. k = 0..kmax, add-α smoothing over
// A/C/G/T: P(b | ctx) = (n(ctx, b) + α) / (n(ctx) + 4α).
//
//   node dist/scripts/markov-baseline.js <fasta> [--bed fixtures/lambda_splits.bed] [--first-last 39000,8000]
//        [--kmax 8] [--alphas 0.01,0.03,0.1,0.3,1,3] [--json]
//
// Splits (each one scored separately, printed as one table):
// - `--bed FILE`: train = its `train` rows, test = its `test` rows (the coordinates `pretrain --bed` and
//   `eval --split test` use).
// - `--first-last TRAIN,TEST` (per sequence): train = the first TRAIN bases, test = the last TEST bases.
// With neither, both `--bed fixtures/lambda_splits.bed` and `--first-last 39000,8000` run.
// A second column, 'nested', smooths each order toward the order k−1 prediction instead of uniform
// (a Dirichlet prior centred on the shorter context; α is its weight), the stronger of the two.
// α is chosen per k on a validation part of the TRAINING data (the last 10% of each train region is held
// out, counts from the rest); then the model is refit on all train bases with that α and scored on test.
// Test bits are also printed for every α of the grid (`--json` gives all of them), so the choice is visible.
// Context never crosses a region boundary or an N: a base with j < k known preceding bases in its region
// is scored by the order-j model. The first base of each test region is not scored: `eval` makes no
// prediction for it (it has no context), so both score the same bases (9,999 on lambda's test row).
// N and other non-ACGT test positions are skipped and counted. Bits are over 4 letters: uniform = 2.0.
import { openGenome } from '../src/genome/open.js';
import { readBed } from '../src/genome/bed.js';
import type { Region } from '../src/genome/types.js';
import { encode, TOKEN } from '../src/tokenizer/index.js';

interface Split { name: string; train: Region[]; test: Region[] }

function usage(why: string): never {
  console.error(`markov-baseline: ${why}\nusage: node dist/scripts/markov-baseline.js <fasta> [--bed FILE] [--first-last TRAIN,TEST] [--kmax 8] [--alphas 0.01,0.1,1] [--json]`);
  process.exit(2);
}

/** Bases of a region as 0..3 (A, C, G, T) or -1 (N, anything else). */
function toBases(ids: Uint8Array): Int8Array {
  const out = new Int8Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i] - TOKEN.A;
    out[i] = v >= 0 && v < 4 ? v : -1;
  }
  return out;
}

/** Counts n(ctx, b) for every order j = 0..kmax at once: counts[j] has 4^j · 4 entries. */
function countAll(seqs: Int8Array[], kmax: number): Float64Array[] {
  const counts = Array.from({ length: kmax + 1 }, (_, j) => new Float64Array(4 ** j * 4));
  for (const s of seqs) {
    for (let i = 0; i < s.length; i++) {
      const b = s[i];
      if (b < 0) continue;
      let ctx = 0; // base-4 code of s[i-j .. i-1], most recent base lowest digit
      counts[0][b]++;
      for (let j = 1; j <= kmax; j++) {
        const p = s[i - j];
        if (i - j < 0 || p < 0) break;
        ctx += p * 4 ** (j - 1);
        counts[j][ctx * 4 + b]++;
      }
    }
  }
  return counts;
}

/** Total bits and scored bases of seqs under the order-k model (backing off to order j at region
 *  starts / after an N). 'add': add-α, P = (n(ctx, b) + α) / (n(ctx) + 4α). 'nested': the prior of
 *  order j is the order j−1 prediction (order −1: uniform), P_j = (n(ctx_j, b) + α·P_{j−1}) / (n(ctx_j) + α)
 *  — unseen long contexts fall back on shorter ones instead of on uniform. */
function score(seqs: Int8Array[], counts: Float64Array[], k: number, alpha: number, mode: 'add' | 'nested' = 'add', from = 0): { bits: number; bases: number; skipped: number } {
  let bits = 0, bases = 0, skipped = 0;
  for (const s of seqs) {
    for (let i = from; i < s.length; i++) {
      const b = s[i];
      if (b < 0) { skipped++; continue; }
      let ctx = 0, j = 0, p = 0.25;
      for (;;) {
        const c = counts[j];
        const n = c[ctx * 4] + c[ctx * 4 + 1] + c[ctx * 4 + 2] + c[ctx * 4 + 3];
        if (mode === 'nested') p = (c[ctx * 4 + b] + alpha * p) / (n + alpha);
        if (j === k || i - j - 1 < 0 || s[i - j - 1] < 0) {
          if (mode === 'add') p = (c[ctx * 4 + b] + alpha) / (n + 4 * alpha);
          break;
        }
        ctx += s[i - j - 1] * 4 ** j;
        j++;
      }
      bits -= Math.log2(p);
      bases++;
    }
  }
  return { bits, bases, skipped };
}

async function fetchBases(genome: Awaited<ReturnType<typeof openGenome>>, regions: Region[]): Promise<Int8Array[]> {
  const out: Int8Array[] = [];
  for (const r of regions) out.push(toBases(encode(await genome.fetch(r.name, r.start, r.end))));
  return out;
}

interface Row {
  split: string; k: number; alpha: number; validBits: number; testBits: number;
  nestedAlpha: number; nestedTestBits: number;
  testBitsByAlpha: Record<string, number>; trainBases: number; testBases: number; testSkipped: number;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const fasta = argv[0];
  if (!fasta || fasta.startsWith('--')) usage('give a FASTA path first');
  const val = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return undefined;
    if (i + 1 >= argv.length) usage(`--${name} needs a value`);
    return argv[i + 1];
  };
  const kmax = Number(val('kmax') ?? 8);
  if (!Number.isInteger(kmax) || kmax < 0 || kmax > 12) usage(`--kmax must be an integer 0..12 (got ${val('kmax')})`);
  const alphas = (val('alphas') ?? '0.01,0.1,1,3,10,30,100,300,1000').split(',').map(Number);
  if (alphas.some((a) => !(a > 0))) usage(`--alphas must be positive numbers (got ${val('alphas')})`);
  let bed = val('bed');
  let firstLast = val('first-last');
  if (!bed && !firstLast) { bed = 'fixtures/lambda_splits.bed'; firstLast = '39000,8000'; }

  const genome = await openGenome(fasta);
  const splits: Split[] = [];
  if (bed) {
    const rows = await readBed(bed);
    splits.push({ name: `${bed}: train rows / test rows`, train: rows.filter((r) => r.label === 'train'), test: rows.filter((r) => r.label === 'test') });
  }
  if (firstLast) {
    const [nTrain, nTest] = firstLast.split(',').map(Number);
    if (!(nTrain > 0) || !(nTest > 0)) usage(`--first-last must be TRAIN,TEST base counts (got ${firstLast})`);
    const train: Region[] = [], test: Region[] = [];
    for (const s of genome.sequences) {
      if (nTrain + nTest > s.length) usage(`--first-last ${firstLast}: ${s.name} has only ${s.length} bases`);
      train.push({ name: s.name, start: 0, end: nTrain });
      test.push({ name: s.name, start: s.length - nTest, end: s.length });
    }
    splits.push({ name: `first ${nTrain} train / last ${nTest} test`, train, test });
  }

  const rows: Row[] = [];
  for (const sp of splits) {
    if (sp.train.length === 0 || sp.test.length === 0) usage(`split "${sp.name}" has no train or no test regions`);
    const train = await fetchBases(genome, sp.train);
    const test = await fetchBases(genome, sp.test);
    // validation part of the training data: the last 10% of each train region
    const fit = train.map((s) => s.subarray(0, s.length - Math.floor(s.length / 10)));
    const valid = train.map((s) => s.subarray(s.length - Math.floor(s.length / 10)));
    const fitCounts = countAll(fit, kmax);
    const allCounts = countAll(train, kmax);
    const trainBases = train.reduce((n, s) => n + s.length, 0);
    for (let k = 0; k <= kmax; k++) {
      let best = { alpha: alphas[0], bits: Infinity };
      for (const a of alphas) {
        const v = score(valid, fitCounts, k, a);
        if (v.bits / v.bases < best.bits) best = { alpha: a, bits: v.bits / v.bases };
      }
      let nested = { alpha: alphas[0], bits: Infinity };
      for (const a of alphas) {
        const v = score(valid, fitCounts, k, a, 'nested');
        if (v.bits / v.bases < nested.bits) nested = { alpha: a, bits: v.bits / v.bases };
      }
      const tn = score(test, allCounts, k, nested.alpha, 'nested', 1);
      const byAlpha: Record<string, number> = {};
      const t = score(test, allCounts, k, best.alpha, 'add', 1);
      for (const a of alphas) { const r = score(test, allCounts, k, a, 'add', 1); byAlpha[String(a)] = r.bits / r.bases; }
      rows.push({ split: sp.name, k, alpha: best.alpha, validBits: best.bits, testBits: t.bits / t.bases, nestedAlpha: nested.alpha, nestedTestBits: tn.bits / tn.bases, testBitsByAlpha: byAlpha, trainBases, testBases: t.bases, testSkipped: t.skipped });
    }
  }
  await genome.close();

  if (argv.includes('--json')) { console.log(JSON.stringify(rows, null, 1)); return; }
  for (const sp of splits) {
    const rs = rows.filter((r) => r.split === sp.name);
    console.log(`\n${sp.name} (${rs[0].trainBases} train bases, ${rs[0].testBases} test bases scored, ${rs[0].testSkipped} non-ACGT skipped)\n`);
    console.log(`| k | add-α: α (chosen on train tail) | train-tail bits/base | test bits/base | ${alphas.map((a) => `test @ α=${a}`).join(' | ')} | nested: α | nested: test bits/base |`);
    console.log(`|---:|---:|---:|---:|${alphas.map(() => '---:').join('|')}|---:|---:|`);
    for (const r of rs) {
      console.log(`| ${r.k} | ${r.alpha} | ${r.validBits.toFixed(4)} | **${r.testBits.toFixed(4)}** | ${alphas.map((a) => r.testBitsByAlpha[String(a)].toFixed(4)).join(' | ')} | ${r.nestedAlpha} | **${r.nestedTestBits.toFixed(4)}** |`);
    }
  }
}

try {
  await main();
} catch (err) {
  // InputError from the genome / BED readers already names the file and the fix: one line, no stack
  console.error(`markov-baseline: ${(err as Error).message}`);
  process.exit(3);
}
