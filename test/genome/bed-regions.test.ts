// BED reading (HyenaDNA's 4-column split files included) and samtools-style region arguments.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, UsageError } from '../../src/errors.js';
import { checkBedRegions, readBed } from '../../src/genome/bed.js';
import { parseRegionArg, resolveRegions } from '../../src/cli/region-args.js';
import { fx, LAMBDA, LAMBDA_NAME, tempDir, openForTest } from './helpers.js';

test('readBed: HyenaDNA split file, comments/track/blank lines skipped, split filter', async (t) => {
  const all = await readBed(fx('lambda_splits.bed'));
  t.deepEqual(all.map((r) => [r.name, r.start, r.end, r.label, r.line]), [
    [LAMBDA_NAME, 0, 20000, 'train', 3],
    [LAMBDA_NAME, 20000, 30000, 'valid', 4],
    [LAMBDA_NAME, 30000, 40000, 'test', 6],
    [LAMBDA_NAME, 40000, 48502, 'train', 7],
  ]);
  t.deepEqual((await readBed(fx('lambda_splits.bed'), { split: 'train' })).map((r) => r.start), [0, 40000]);
  await t.throwsAsync(readBed(fx('lambda_splits.bed'), { split: 'val' }), { instanceOf: InputError, message: /no intervals in split 'val' \(the file has: 'train', 'valid', 'test'\)/ });
});

test('readBed: malformed lines are file:line errors', async (t) => {
  await t.throwsAsync(readBed(fx('malformed.bed')), { instanceOf: InputError, message: /malformed\.bed:3: end 'abc' is not a whole number/ });
  const dir = tempDir('bed');
  const cases: [string, RegExp][] = [
    ['chr1\t5\n', /:1: expected at least 3 columns \(chrom, start, end\), found 2/],
    ['chr1\t-1\t5\n', /:1: start '-1' is not a whole number/],
    ['#c\nchr1\t9\t5\n', /:2: end 5 is before start 9/],
    ['chr1\t1.5\t5\n', /:1: start '1.5' is not a whole number/],
  ];
  for (const [text, re] of cases) {
    const p = join(dir, 'x.bed');
    writeFileSync(p, text);
    const err = await t.throwsAsync(readBed(p), { instanceOf: InputError });
    t.regex(err.message, re);
    t.true(err.message.startsWith(`${p}:`));
  }
  writeFileSync(join(dir, 'three.bed'), 'chr1 1 5\r\n');
  t.deepEqual(await readBed(join(dir, 'three.bed')), [{ name: 'chr1', start: 1, end: 5, line: 1 }]);
  await t.throwsAsync(readBed(join(dir, 'three.bed'), { split: 'train' }), { instanceOf: InputError, message: /three\.bed:1: no 4th column to select split 'train' by/ });
});

test('checkBedRegions: unknown sequence and past-the-end intervals name the BED line', async (t) => {
  const g = await openForTest(t, LAMBDA);
  t.notThrows(() => checkBedRegions(g, [{ name: LAMBDA_NAME, start: 0, end: 48502, line: 1 }], 'x.bed'));
  t.throws(() => checkBedRegions(g, [{ name: 'chr1', start: 0, end: 5, line: 7 }], 'x.bed'), { instanceOf: InputError, message: /^x\.bed:7: sequence 'chr1' is not in/ });
  t.throws(() => checkBedRegions(g, [{ name: LAMBDA_NAME, start: 0, end: 48503, line: 2 }], 'x.bed'), { instanceOf: InputError, message: /^x\.bed:2: interval .* ends past the end .*48502 bases/ });
});

test('parseRegionArg: samtools syntax → 0-based half-open', async (t) => {
  const g = await openForTest(t, fx('fasta/multi.fa'));
  const l = await openForTest(t, LAMBDA);
  t.deepEqual(parseRegionArg('chr1', g), { name: 'chr1', start: 0, end: 300 });
  t.deepEqual(parseRegionArg('chr1:1-100', g), { name: 'chr1', start: 0, end: 100 });
  t.deepEqual(parseRegionArg('chr1:100', g), { name: 'chr1', start: 99, end: 300 });
  t.deepEqual(parseRegionArg('chr1:100-', g), { name: 'chr1', start: 99, end: 300 });
  t.deepEqual(parseRegionArg('chr1:-10', g), { name: 'chr1', start: 0, end: 10 });
  t.deepEqual(parseRegionArg('chr1:1,0-2,00', g), { name: 'chr1', start: 9, end: 200 });
  t.deepEqual(parseRegionArg('chr1:300-300', g), { name: 'chr1', start: 299, end: 300 });
  t.deepEqual(parseRegionArg('HLA-A*01:01:01:01', g), { name: 'HLA-A*01:01:01:01', start: 0, end: 100 });
  t.deepEqual(parseRegionArg('HLA-A*01:01:01:01:5-9', g), { name: 'HLA-A*01:01:01:01', start: 4, end: 9 });
  t.deepEqual(parseRegionArg('{HLA-A*01:01:01:01}:5', g), { name: 'HLA-A*01:01:01:01', start: 4, end: 100 });
  t.deepEqual(parseRegionArg(`${LAMBDA_NAME}:1-70`, l), { name: LAMBDA_NAME, start: 0, end: 70 });
  t.deepEqual(parseRegionArg(LAMBDA_NAME, l), { name: LAMBDA_NAME, start: 0, end: 48502 });
  t.throws(() => parseRegionArg('chrX:1-5', g), { instanceOf: InputError, message: /no sequence named 'chrX' \(sequences: 'chr1'/ });
  t.throws(() => parseRegionArg('chr1:250-301', g), { instanceOf: InputError, message: /region 'chr1:250-301' is outside 'chr1', which has 300 bases \(1-300\)/ });
  t.throws(() => parseRegionArg('chr1:301', g), { instanceOf: InputError });
  t.throws(() => parseRegionArg('chr1:0-5', g), { instanceOf: UsageError, message: /1-based/ });
  t.throws(() => parseRegionArg('chr1:9-5', g), { instanceOf: UsageError, message: /end 5 is before start 9/ });
  t.throws(() => parseRegionArg('chr1:a-b', g), { instanceOf: UsageError, message: /expected NAME, NAME:START-END/ });
  t.throws(() => parseRegionArg('{chr1', g), { instanceOf: UsageError });
});

test('parseRegionArg: a name that is also name:range is ambiguous, as in htslib', async (t) => {
  const dir = tempDir('amb');
  const fa = join(dir, 'a.fa');
  writeFileSync(fa, '>c\nACGTACGTAC\n>c:1-2\nAC\n');
  const { indexFasta } = await import('../../src/genome/index-fasta.js');
  await indexFasta(fa);
  const g = await openForTest(t, fa);
  t.throws(() => parseRegionArg('c:1-2', g), { instanceOf: UsageError, message: /ambiguous.*\{c:1-2\} or \{c\}:1-2/ });
  t.deepEqual(parseRegionArg('{c:1-2}', g), { name: 'c:1-2', start: 0, end: 2 });
  t.deepEqual(parseRegionArg('{c}:1-2', g), { name: 'c', start: 0, end: 2 });
});

test('resolveRegions: args, BED, or every sequence', async (t) => {
  const g = await openForTest(t, fx('fasta/multi.fa'));
  t.is((await resolveRegions(g, [])).length, 6);
  t.deepEqual(await resolveRegions(g, ['chr3:2-3']), [{ name: 'chr3', start: 1, end: 3 }]);
  const l = await openForTest(t, LAMBDA);
  t.deepEqual((await resolveRegions(l, [], { path: fx('lambda_splits.bed'), split: 'test' })).map((r) => [r.start, r.end]), [[30000, 40000]]);
});
