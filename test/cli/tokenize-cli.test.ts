// End to end: spawn the real binary on fixtures/lambda_virus.fa and compare stdout with an
// independent decoding of the FASTA bytes; check stderr and exit codes for each error class.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = 'bin/mamba-dna.js';
const NAME = 'gi|9626243|ref|NC_001416.1|';
const tmp = mkdtempSync(join(tmpdir(), 'mamba-dna-tokenize-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

const FASTA = 'fixtures/lambda_virus.fa'; // + .fai; its BGZF twin: .fa.gz + .fai + .gzi

/** Independent decoding of the file: sequence letters after the header, newlines dropped. */
const BASES = readFileSync(FASTA, 'latin1').split('\n').slice(1).join('').trim();
const ID: Record<string, number> = { A: 7, C: 8, G: 9, T: 10, N: 11 };
const ids = (s: string) => [...s].map((c) => ID[c.toUpperCase()] ?? 11).join(' ');
const rc = (s: string) => [...s].reverse().map((c) => ({ A: 'T', C: 'G', G: 'C', T: 'A' } as Record<string, string>)[c] ?? 'N').join('');

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'tokenize', ...args], { encoding: 'latin1' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the fixture is lambda phage, 48,502 bases', (t) => {
  t.is(BASES.length, 48502);
  t.regex(BASES, /^[ACGT]+$/);
});

test('--region: one line of ids per region, 1-based inclusive, line and sequence ends', (t) => {
  const r = run(FASTA, '-r', `${NAME}:1-70`, '-r', `${NAME}:70-71`, '-r', `${NAME}:48431-48502`, '-r', `${NAME}:1,000-1,000`, '-r', NAME);
  t.is(r.stderr, '');
  t.is(r.code, 0);
  t.is(r.stdout, [ids(BASES.slice(0, 70)), ids(BASES.slice(69, 71)), ids(BASES.slice(48430)), ids(BASES[999]), ids(BASES)].join('\n') + '\n');
  const bgzf = run(`${FASTA}.gz`, '-r', `${NAME}:1-70`, '-r', `${NAME}:70-71`, '-r', `${NAME}:48431-48502`, '-r', `${NAME}:1,000-1,000`, '-r', NAME);
  t.is(bgzf.code, 0);
  t.is(bgzf.stdout, r.stdout, 'BGZF twin');
});

test('no region: every sequence whole; --format bases, --rc and --names', (t) => {
  t.is(run(FASTA).stdout, `${ids(BASES)}\n`);
  const r = run(FASTA, '-r', `${NAME}:101-200`, '--rc', '--format', 'bases', '--names');
  t.is(r.code, 0);
  t.is(r.stdout, `${NAME}:101-200(-)\t${rc(BASES.slice(100, 200))}\n`);
  t.is(run(FASTA, '-r', `${NAME}:5-9`, '--rc').stdout, `${ids(rc(BASES.slice(4, 9)))}\n`);
});

test('--regions BED with --split keeps that split, in file order', (t) => {
  const bed = join(tmp, 'splits.bed');
  writeFileSync(bed, `# splits\n${NAME}\t0\t10\ttrain\n${NAME}\t10\t25\tvalid\n${NAME}\t48000\t48502\ttrain\n`);
  const r = run(FASTA, '--regions', bed, '--split', 'train');
  t.is(r.code, 0);
  t.is(r.stdout, `${ids(BASES.slice(0, 10))}\n${ids(BASES.slice(48000))}\n`);
  const all = run(FASTA, '--regions', bed, '--format', 'bases');
  t.is(all.stdout, `${BASES.slice(0, 10)}\n${BASES.slice(10, 25)}\n${BASES.slice(48000)}\n`);
});

test('errors: one stderr line, no stdout, exit 2 for usage and 3 for input', (t) => {
  const cases: [string[], number, RegExp][] = [
    [[FASTA, '-r', 'chrZ:1-10'], 3, /no sequence named 'chrZ'/],
    [[FASTA, '-r', `${NAME}:1-48503`], 3, /outside .*48502 bases/],
    [[FASTA, '-r', `${NAME}:0-10`], 2, /1-based/],
    [[FASTA, '-r', `${NAME}:20-10`], 2, /before start/],
    [[FASTA, '--split', 'train'], 2, /--split needs --regions/],
    [[join(tmp, 'missing.fa')], 3, /missing\.fa.*no such/],
    [[FASTA, '--format', 'kmers'], 2, /kmers/],
  ];
  for (const [args, code, message] of cases) {
    const r = run(...args);
    t.is(r.code, code, args.join(' '));
    t.is(r.stdout, '', args.join(' '));
    t.regex(r.stderr, message);
    if (code === 3) t.regex(r.stderr, /^mamba-dna: [^\n]+\n$/);
  }
});

test('a reader that leaves early (| head) ends it quietly with exit 0', async (t) => {
  const child = spawn(process.execPath, [BIN, 'tokenize', FASTA, ...Array(60).fill(['-r', NAME]).flat()]);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise((resolve) => child.on('close', resolve));
  t.is(stderr, '');
  t.is(code, 0);
});
