// openGenome: twin fixtures (plain + .fai, BGZF + .fai + .gzi) read the same bases as a naive slice of
// the file, at line boundaries, block boundaries, sequence ends and seeded random intervals; every error
// class is one InputError line naming the file and the fix; a .fai of another file is caught.
import test from 'ava';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { InputError } from '../../src/errors.js';
import { indexFasta } from '../../src/genome/index-fasta.js';
import { openGenome } from '../../src/genome/open.js';
import { mulberry32 } from '../helpers/random.js';
import { fx, LAMBDA, LAMBDA_NAME, naiveFastaFile, tempDir, openForTest } from './helpers.js';

const twins = [
  ['lambda_virus.fa', 'lambda_virus.fa.gz'],
  ['fasta/multi.fa', 'fasta/multi.fa.gz'],
] as const;

for (const [plainName, bgzName] of twins) {
  test(`twin reads agree with a naive slice: ${plainName} vs ${bgzName}`, async (t) => {
    const truth = naiveFastaFile(fx(plainName));
    const plain = await openForTest(t, fx(plainName));
    const bgz = await openForTest(t, fx(bgzName));
    t.is(plain.compression, 'none');
    t.is(bgz.compression, 'bgzf');
    t.deepEqual(plain.sequences, [...truth].map(([name, s]) => ({ name, length: s.length })));
    t.deepEqual(bgz.sequences, plain.sequences);
    const rng = mulberry32(1123);
    let checked = 0;
    for (const { name, length } of plain.sequences) {
      const s = truth.get(name)!;
      const w = plain.records.find((r) => r.name === name)!.lineBases;
      const points = [0, 1, w - 1, w, w + 1, 2 * w - 1, 2 * w, 2 * w + 1, length - w - 1, length - w, length - 1, length];
      const intervals: [number, number][] = [[0, length], [length - 1, length], [0, 1]];
      for (const a of points) for (const b of points) if (a >= 0 && b <= length && a <= b) intervals.push([a, b]);
      for (let i = 0; i < 200; i++) {
        const a = Math.floor(rng() * length);
        intervals.push([a, a + Math.floor(rng() * (length - a + 1))]);
      }
      for (const [a, b] of intervals) {
        const want = s.slice(a, b);
        const [p, g] = await Promise.all([plain.fetch(name, a, b), bgz.fetch(name, a, b)]);
        if (p !== want || g !== want) {
          t.fail(`${name} [${a}, ${b}): plain ${p === want}, bgzf ${g === want}`);
          return;
        }
        checked++;
      }
    }
    t.log(`${checked} intervals agree`);
    t.pass();
  });
}

test('soft-mask and N runs come back as stored', async (t) => {
  const g = await openForTest(t, fx('fasta/multi.fa.gz'));
  t.is(await g.fetch('chr1', 48, 52), (await g.fetch('chr1', 48, 50)) + (await g.fetch('chr1', 50, 52)));
  t.regex(await g.fetch('chr1', 50, 120), /^[acgt]{70}$/);
  t.is(await g.fetch('chr1', 200, 230), 'N'.repeat(30));
  t.is(await g.fetch('chr1', 260, 270), 'n'.repeat(10));
  t.is(await g.fetch('chrN', 0, 130), 'N'.repeat(130));
  t.is(await g.fetch('chr1', 5, 5), '');
  t.is(g.length('HLA-A*01:01:01:01'), 100);
  t.is(g.length('nope'), undefined);
});

async function rejects(t: import('ava').ExecutionContext, p: Promise<unknown>, re: RegExp): Promise<void> {
  const err = await t.throwsAsync(p, { instanceOf: InputError });
  t.regex(err.message, re);
  t.false(err.message.includes('\n'));
  t.log(err.message);
}

test('errors: missing, directory, empty, plain gzip, missing .fai / .gzi', async (t) => {
  const dir = tempDir('open-err');
  await rejects(t, openGenome(join(dir, 'nope.fa')), /nope\.fa: no such FASTA file; check the path/);
  mkdirSync(join(dir, 'd.fa'));
  await rejects(t, openGenome(join(dir, 'd.fa')), /d\.fa: is a directory, expected a FASTA file/);
  writeFileSync(join(dir, 'empty.fa'), '');
  await rejects(t, openGenome(join(dir, 'empty.fa')), /empty\.fa: empty file, expected a FASTA file/);
  const gz = join(dir, 'x.fa.gz');
  writeFileSync(gz, gzipSync('>a\nACGT\n'));
  await rejects(t, openGenome(gz), /^\S+x\.fa\.gz is plain gzip, which cannot be read by position; run 'mamba-dna index --bgzip \S+x\.fa\.gz' to write a BGZF copy with its index$/);
  const fa = join(dir, 'l.fa');
  copyFileSync(LAMBDA, fa);
  await rejects(t, openGenome(fa), /l\.fa: no index \S+l\.fa\.fai beside it; run 'mamba-dna index \S+l\.fa' to write it/);
  copyFileSync(fx('lambda_virus.fa.gz'), join(dir, 'l.fa.gz'));
  copyFileSync(fx('lambda_virus.fa.gz.fai'), join(dir, 'l.fa.gz.fai'));
  await rejects(t, openGenome(join(dir, 'l.fa.gz')), /no index \S+l\.fa\.gz\.gzi beside it; run 'mamba-dna index/);
});

test('errors: unknown sequence (lists names), region out of bounds', async (t) => {
  const g = await openForTest(t, fx('fasta/multi.fa'));
  await rejects(t, g.fetch('chrX', 0, 1), /multi\.fa: no sequence named 'chrX' \(sequences: 'chr1', 'chr2', 'chr3', 'HLA-A\*01:01:01:01', 'chrN', … 6 in all\)/);
  await rejects(t, g.fetch('chr1', 290, 301), /region chr1:291-301 \(1-based\) is outside 'chr1', which has 300 bases/);
  await rejects(t, g.fetch('chr1', -1, 3), /outside 'chr1'/);
  await rejects(t, g.fetch('chr1', 10, 5), /outside 'chr1'/);
});

test('a .fai that does not match its FASTA is caught, never read as bases', async (t) => {
  const dir = tempDir('open-mismatch');
  const fa = join(dir, 'm.fa');
  copyFileSync(fx('fasta/multi.fa'), fa);
  const good = readFileSync(fx('fasta/multi.fa.fai'), 'utf8');
  const cases: [string, string, RegExp][] = [
    // the lambda index beside multi.fa: record would end past the file
    ['another file\'s index', readFileSync(fx('lambda_virus.fa.fai'), 'utf8'), /would end at byte \d+, the file has 1135/],
    // offsets shifted by one: the byte before the offset is not a line break
    ['offsets +1', good.replace(/^(chr1\t300\t)47/m, '$148'), /no line break right before record 'chr1' at byte 48/],
    // offset pointing at another record's sequence: the line before is not chr1's header
    ['offset of HLA', good.replace(/^(chr5\t120\t)1013/m, '$1741'), /the line before byte 741 is not the header of 'chr5'/],
    // wrong line width: first line is not 61 bases then a break
    ['line width', good.replace(/^chr1\t300\t47\t60\t61/m, 'chr1\t300\t47\t61\t62'), /the first line of 'chr1' is not 61 bases then a line break/],
    ['not a .fai', '>chr1\nACGT\n', /m\.fa\.fai:1: expected 5 tab-separated columns, found 1 \(not a FASTA \.fai\)/],
    ['letters in numbers', 'chr1\t300\tx\t60\t61\n', /m\.fa\.fai:1: columns 2-5 must be whole numbers/],
  ];
  for (const [what, fai, re] of cases) {
    writeFileSync(`${fa}.fai`, fai);
    const err = await t.throwsAsync(
      (async () => {
        const g = await openForTest(t, fa);
        for (const s of g.sequences) await g.fetch(s.name, 0, s.length);
      })(),
      { instanceOf: InputError },
      what,
    );
    t.regex(err.message, re, what);
    t.regex(err.message, /rerun 'mamba-dna index \S+m\.fa'$/, what);
    t.log(`${what}: ${err.message}`);
  }
});

test('a FASTA edited after indexing (one base removed) is caught on fetch', async (t) => {
  const dir = tempDir('open-edit');
  const fa = join(dir, 'e.fa');
  copyFileSync(fx('fasta/multi.fa'), fa);
  await indexFasta(fa);
  const text = readFileSync(fa, 'latin1');
  writeFileSync(fa, text.replace(/\n([ACGTN]{60})\n/, (_m, l: string) => `\n${l.slice(1)}\n`));
  const g = await openForTest(t, fa);
  const err = await t.throwsAsync(
    (async () => {
      for (const s of g.sequences) await g.fetch(s.name, 0, s.length);
    })(),
    { instanceOf: InputError },
  );
  t.regex(err.message, /does not match .*e\.fa/);
  t.log(err.message);
});

test('the lambda name with | and the whole genome read', async (t) => {
  const g = await openForTest(t, LAMBDA);
  const s = await g.fetch(LAMBDA_NAME, 0, 48_502);
  t.is(s.length, 48_502);
  t.is(s, naiveFastaFile(LAMBDA).get(LAMBDA_NAME)!);
});
