// `mamba-dna classify` end to end on real genomes (../shared/data/bacteria, plain gzip as shipped):
// decompress + index, train on one strain per species, evaluate on a held-out strain of each species.
// The k-mer baseline and a linear probe on a small random-init Mamba (d_model 32, 2 layers) at
// L = 1,024 must both be far above chance (25%); eval is reproducible with a seed; predict streams
// TSV; fine-tuning through the backbone resumes exactly; bad input exits with one line.
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { indexFasta } from '../../src/genome/index-fasta.js';
import { runCli, runCliClosingStdout } from '../helpers/cli.js';

const DATA = new URL('../../../../shared/data/bacteria/', import.meta.url).pathname;
const TRAIN: Array<[string, string]> = [['E.Coli', 'MG1655-K12'], ['H.Pylori', 'ELS37'], ['S.Aureus', 'COL'], ['V.Cholerae', 'H1']];
const TEST: Array<[string, string]> = [['E.Coli', 'DH1'], ['H.Pylori', 'G27'], ['S.Aureus', 'N315'], ['V.Cholerae', 'O395']];
const have = existsSync(DATA);
const tmp = mkdtempSync(join(tmpdir(), 'classify-cli-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

const fa = (sp: string, strain: string) => join(tmp, `${sp}_${strain}.fa`);
const args = (set: Array<[string, string]>) => set.flatMap(([sp, st]) => ['--species', `${sp}=${fa(sp, st)}`]);

let ready: Promise<void> | undefined;
function prepare(): Promise<void> {
  ready ??= (async () => {
    for (const [sp, st] of [...TRAIN, ...TEST]) {
      writeFileSync(fa(sp, st), gunzipSync(readFileSync(join(DATA, sp, `${st}.fasta.gz`))));
      await indexFasta(fa(sp, st));
    }
    const init = await runCli(['init', '--out', join(tmp, 'init'), '--d-model', '32', '--n-layer', '2', '--seed', '1']);
    if (init.code !== 0) throw new Error(init.stderr);
  })();
  return ready;
}

const evalJson = async (model: string, extra: string[] = []) => {
  const r = await runCli(['classify', 'eval', '--model', model, ...args(TEST), '--samples', '40', '--seed', '7', '--json', '--device', 'cpu', '--threads', '1', ...extra]);
  if (r.code !== 0) throw new Error(r.stderr);
  return { json: JSON.parse(r.stdout), stdout: r.stdout, stderr: r.stderr };
};

const maybe = have ? test.serial : test.skip;
if (!have) test('bacteria data present', (t) => t.log(`skipped: ${DATA} not found`) as unknown as void);

maybe('k-mer baseline and a linear probe both classify held-out strains far above chance at L = 1,024; eval is reproducible', async (t) => {
  await prepare();
  const km = join(tmp, 'kmer');
  const k = await runCli(['classify', 'train', '--baseline', 'kmer', '--k', '6', ...args(TRAIN), '--seq-len', '1024', '--steps', '50', '--batch', '8', '--out', km]);
  t.is(k.code, 0, k.stderr);
  const probe = join(tmp, 'probe');
  const p = await runCli(['classify', 'train', '--model', join(tmp, 'init'), '--freeze-backbone', '--pool', 'mean', ...args(TRAIN), '--seq-len', '1024',
    '--probe-windows', '400', '--steps', '1000', '--batch', '32', '--lr', '0.05', '--weight-decay', '0', '--device', 'cpu', '--threads', '1', '--out', probe]);
  t.is(p.code, 0, p.stderr);
  for (const f of ['classifier.json', 'head.safetensors', 'config.json', 'model.safetensors', 'split.tsv', 'metrics.jsonl']) t.true(existsSync(join(probe, f)), f);
  t.regex(readFileSync(join(km, 'split.tsv'), 'utf8'), /^E\.Coli\t\S+MG1655-K12\.fa\tK-12-MG1655\t4175707\t4639675\ttest$/m);
  const ek = await evalJson(km);
  const ep = await evalJson(probe, ['--plot', join(tmp, 'probe.svg')]);
  t.log(`held-out strains, L 1024, 40 windows/species: k-mer ${ek.json.accuracy}, Mamba linear probe ${ep.json.accuracy}`);
  t.true(ek.json.accuracy >= 0.9);
  t.true(ep.json.accuracy >= 0.6);
  t.deepEqual(ep.json.labels, ['E.Coli', 'H.Pylori', 'S.Aureus', 'V.Cholerae']);
  t.is(ep.json.confusion.flat().reduce((a: number, b: number) => a + b, 0), 160);
  t.is(ep.json.perSpecies.length, 4);
  t.regex(ek.stderr, /not used in training: the whole genome is test/);
  // same seed → same windows → same numbers; another seed → other windows
  t.is((await evalJson(probe)).stdout, ep.stdout);
  const other = await evalJson(probe, ['--seed', '8']);
  t.not(other.stdout, ep.stdout);
  const svg = readFileSync(join(tmp, 'probe.svg'), 'utf8');
  t.regex(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.is((svg.match(/<rect x=/g) ?? []).length, 16);
  // the test split of the training strain is used when evaluating on it
  const own = await runCli(['classify', 'eval', '--model', km, '--samples', '10']);
  t.is(own.code, 0, own.stderr);
  t.regex(own.stdout, /accuracy \d\.\d{4} \(\d+\/40\)/);
});

maybe('predict writes a TSV header and one line per region; | head ends quietly', async (t) => {
  await prepare();
  const km = join(tmp, 'kmer');
  const bed = join(tmp, 'regions.bed');
  const g = fa('H.Pylori', 'G27');
  const name = readFileSync(`${g}.fai`, 'utf8').split('\t')[0];
  writeFileSync(bed, `${name}\t0\t5000\n${name}\t100000\t101024\n`);
  const r = await runCli(['classify', 'predict', '--model', km, '--fasta', g, '--regions', bed]);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.is(lines[0], 'chrom\tstart\tend\tspecies\tp_E.Coli\tp_H.Pylori\tp_S.Aureus\tp_V.Cholerae');
  t.is(lines.length, 3);
  t.regex(lines[1], new RegExp(`^${name.replace(/\./g, '\\.')}\t0\t5000\tH\\.Pylori\t`));
  const ps = lines[1].split('\t').slice(4).map(Number);
  t.true(Math.abs(ps.reduce((a, b) => a + b, 0) - 1) < 1e-3);
  const many = join(tmp, 'many.bed');
  const ecoli = readFileSync(`${fa('E.Coli', 'DH1')}.fai`, 'utf8').split('\t')[0];
  writeFileSync(many, Array.from({ length: 3000 }, (_, i) => `${ecoli}\t${i * 1000}\t${i * 1000 + 1000}`).join('\n'));
  const head = await runCliClosingStdout(['classify', 'predict', '--model', km, '--fasta', fa('E.Coli', 'DH1'), '--regions', many], 200);
  t.is(head.code, 0, head.stderr);
  t.is(head.stderr, '');
});

maybe('fine-tuning through the backbone: loss is finite, backbone changes, and 6 straight steps == 3 + --resume to 6', async (t) => {
  await prepare();
  const common = ['--model', join(tmp, 'init'), ...args(TRAIN), '--seq-len', '64', '--batch', '4', '--lr', '1e-3', '--save-every', '3', '--pool', 'last'];
  const a = join(tmp, 'ftA');
  const b = join(tmp, 'ftB');
  const ra = await runCli(['classify', 'train', ...common, '--steps', '6', '--out', a]);
  t.is(ra.code, 0, ra.stderr);
  const rb = await runCli(['classify', 'train', ...common, '--steps', '3', '--schedule-steps', '6', '--out', b]);
  t.is(rb.code, 0, rb.stderr);
  const rr = await runCli(['classify', 'train', '--resume', b, '--steps', '6']);
  t.is(rr.code, 0, rr.stderr);
  t.regex(rr.stderr, /resuming .*step-3 at step 3 of 6/);
  for (const f of ['model.safetensors', 'head.safetensors']) t.true(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs`);
  t.false(readFileSync(join(a, 'model.safetensors')).subarray(-4096).equals(readFileSync(join(tmp, 'init', 'model.safetensors')).subarray(-4096)), 'backbone did not change');
  const losses = (d: string) => readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss);
  t.deepEqual(losses(b), losses(a));
  t.true(losses(a).every(Number.isFinite));
  // the fine-tuned classifier directory is also a standard checkpoint
  const e = await runCli(['classify', 'eval', '--model', a, '--samples', '4', '--device', 'cpu', '--threads', '1']);
  t.is(e.code, 0, e.stderr);
});

maybe('bad input: one line on stderr, exit 2 for usage and 3 for files', async (t) => {
  await prepare();
  const gz = join(tmp, 'plain.fa.gz');
  writeFileSync(gz, readFileSync(join(DATA, 'H.Pylori', 'G27.fasta.gz')));
  const r1 = await runCli(['classify', 'train', '--baseline', 'kmer', '--species', `a=${gz}`, '--species', `b=${fa('E.Coli', 'DH1')}`, '--out', join(tmp, 'x1')]);
  t.is(r1.code, 3);
  t.regex(r1.stderr, /plain gzip.*mamba-dna index --bgzip/);
  t.is(r1.stderr.trim().split('\n').length, 1);
  const r2 = await runCli(['classify', 'train', '--baseline', 'kmer', '--out', join(tmp, 'x2')]);
  t.is(r2.code, 2);
  t.regex(r2.stderr, /--species NAME=FASTA/);
  const r3 = await runCli(['classify', 'train', '--baseline', 'kmer', '--species', 'onlyone', '--out', join(tmp, 'x3')]);
  t.is(r3.code, 2);
  const r4 = await runCli(['classify', 'eval', '--model', join(tmp, 'init')]);
  t.is(r4.code, 3);
  t.regex(r4.stderr, /classifier\.json: missing/);
  const r5 = await runCli(['classify', 'eval', '--model', join(tmp, 'kmer'), '--species', `Human=${fa('E.Coli', 'DH1')}`]);
  t.is(r5.code, 2);
  t.regex(r5.stderr, /not one this classifier knows/);
  const r6 = await runCli(['classify', 'train', '--baseline', 'kmer', ...args(TRAIN), '--test-sequences', 'chr21', '--out', join(tmp, 'x6')]);
  t.is(r6.code, 3);
  t.regex(r6.stderr, /--test-sequences: 'chr21' is not in/);
  const r7 = await runCli(['classify', 'train', '--model', join(tmp, 'init'), '--freeze-backbone', '--seq-len-warmup', ...args(TRAIN), '--seq-len', '4096', '--out', join(tmp, 'x7')]);
  t.is(r7.code, 2);
  t.regex(r7.stderr, /--seq-len-warmup applies to fine-tuning only/);
  t.is(r7.stderr.trim().split('\n').length, 1);
});
