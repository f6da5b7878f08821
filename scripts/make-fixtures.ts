// Regenerates the genome fixtures under fixtures/ (not fixtures/golden/): the lambda .fai, its BGZF twin
// (our own BGZF writer, small blocks so reads cross block boundaries) with .fai + .gzi, small edge-case
// FASTAs (valid ones indexed, malformed ones not) and BED files. Deterministic: seeded, no clock.
// Run: npx tsc -p tsconfig.json && node dist/scripts/make-fixtures.js
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { indexFasta } from '../src/genome/index-fasta.js';
import { mulberry32 } from '../src/data/rng.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = join(root, 'fixtures');
const edge = join(fixtures, 'fasta');

const rng = mulberry32;

function bases(r: () => number, n: number, alphabet = 'ACGT'): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

function wrap(seq: string, width: number, eol = '\n'): string {
  let out = '';
  for (let i = 0; i < seq.length; i += width) out += seq.slice(i, i + width) + eol;
  return out;
}

function record(header: string, seq: string, width: number, eol = '\n'): string {
  return `>${header}${eol}${wrap(seq, width, eol)}`;
}

async function main(): Promise<void> {
  const r = rng(20261123);
  await rm(edge, { recursive: true, force: true });
  await mkdir(edge, { recursive: true });

  // multi.fa: soft-mask, N runs, IUPAC codes, 60- and 61-column lines, short last line, a single-line
  // record, a name with ':' (like hg38's HLA alt contigs), an all-N record, a record ending at a line end.
  const chr1 = bases(r, 300).split('');
  for (let i = 50; i < 120; i++) chr1[i] = chr1[i]!.toLowerCase();
  for (let i = 200; i < 230; i++) chr1[i] = 'N';
  for (let i = 260; i < 270; i++) chr1[i] = 'n';
  const chr2 = bases(r, 245, 'ACGTACGTACGTRYSWKMBDHVN');
  const multi =
    record('chr1 soft-masked 51-120, N 201-230, n 261-270', chr1.join(''), 60) +
    record('chr2 IUPAC codes, 61 columns, short last line', chr2, 61) +
    record('chr3 single line', bases(r, 37), 60) +
    record('HLA-A*01:01:01:01 name with colons', bases(r, 100, 'ACGTacgt'), 60) +
    record('chrN all N', 'N'.repeat(130), 60) +
    record('chr5 ends at a line end', bases(r, 120), 60);
  await writeFile(join(edge, 'multi.fa'), multi);

  await writeFile(join(edge, 'crlf.fa'), record('c1 CRLF line endings', bases(r, 125), 50, '\r\n') + record('c2', bases(r, 50), 50, '\r\n'));
  await writeFile(join(edge, 'no-trailing-newline.fa'), (record('a', bases(r, 150), 60) + record('b last line unterminated', bases(r, 75), 60)).replace(/\n$/, ''));
  await writeFile(join(edge, 'empty-record.fa'), record('a', bases(r, 80), 60) + '>empty no bases\n' + record('b', bases(r, 70), 60));
  await writeFile(join(edge, 'duplicate-names.fa'), record('a first', bases(r, 90), 60) + record('b', bases(r, 20), 60) + record('a second', bases(r, 30), 60));
  // malformed: line 3 of record 'bad' is longer than its first line; a blank line inside a record
  await writeFile(join(edge, 'irregular-lines.fa'), record('ok', bases(r, 60), 60) + `>bad\n${bases(r, 60)}\n${bases(r, 61)}\n${bases(r, 10)}\n`);
  await writeFile(join(edge, 'blank-line-inside.fa'), `>a\n${bases(r, 60)}\n\n${bases(r, 20)}\n`);

  const valid = ['multi.fa', 'crlf.fa', 'no-trailing-newline.fa', 'empty-record.fa', 'duplicate-names.fa'];
  for (const f of valid) await indexFasta(join(edge, f));
  // a BGZF twin of multi.fa with 256-byte blocks: every record spans blocks
  await indexFasta(join(edge, 'multi.fa'), { bgzip: true, force: true, blockSize: 256 });

  const lambda = join(fixtures, 'lambda_virus.fa');
  await indexFasta(lambda);
  // 8 KiB blocks: the 49 KB genome spans 7 blocks (the default 65,280 would make it one)
  await indexFasta(lambda, { bgzip: true, force: true, blockSize: 8192 });

  const name = 'gi|9626243|ref|NC_001416.1|';
  await writeFile(
    join(fixtures, 'lambda_splits.bed'),
    [
      '# HyenaDNA-style split file: chrom start end split (0-based half-open)',
      'track name=lambda_splits',
      `${name}\t0\t20000\ttrain`,
      `${name}\t20000\t30000\tvalid`,
      '',
      `${name}\t30000\t40000\ttest`,
      `${name}\t40000\t48502\ttrain`,
      '',
    ].join('\n'),
  );
  await writeFile(join(fixtures, 'malformed.bed'), ['browser position x', `${name}\t0\t100\ttrain`, `${name}\t100\tabc\ttrain`, ''].join('\n'));
  process.stderr.write(`wrote fixtures under ${fixtures}\n`);
}

await main();
