// .fai building: byte-identical to samtools faidx 1.16 on every valid fixture and on a real bacterial
// genome; each irregular input handled as samtools does, or rejected with file:line and the record.
import test from 'ava';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { InputError } from '../../src/errors.js';
import { FaiBuilder, formatFai } from '../../src/genome/fai.js';
import { indexFasta } from '../../src/genome/index-fasta.js';
import { fx, repo, samtools, tempDir, VALID_FASTA } from './helpers.js';

for (const f of VALID_FASTA) {
  test(`.fai of ${f} is byte-identical to samtools faidx (committed and rebuilt)`, async (t) => {
    const dir = tempDir('fai');
    const copy = join(dir, basename(f));
    copyFileSync(fx(f), copy);
    const st = samtools('faidx', copy);
    t.is(st.status, 0, st.stderr);
    const theirs = readFileSync(`${copy}.fai`, 'utf8');
    t.is(readFileSync(`${fx(f)}.fai`, 'utf8'), theirs, 'committed fixture .fai');
    const res = await indexFasta(copy);
    t.is(readFileSync(res.fai, 'utf8'), theirs, 'rebuilt .fai');
  });
}

test('.fai of a real bacterial genome (S. aureus COL, 2.8 Mb, one record) equals samtools', async (t) => {
  const dir = tempDir('fai-bact');
  const fa = join(dir, 'COL.fa');
  writeFileSync(fa, gunzipSync(readFileSync(join(repo, '..', 'shared', 'data', 'bacteria', 'S.Aureus', 'COL.fasta.gz'))));
  const res = await indexFasta(fa);
  const ours = readFileSync(res.fai, 'utf8');
  t.is(samtools('faidx', '-o', '/dev/null', fa).status, 0);
  t.is(samtools('faidx', fa).status, 0);
  t.is(ours, readFileSync(`${fa}.fai`, 'utf8'));
  t.log(ours.trim());
});

interface Case {
  text: string;
  /** samtools succeeds and we write the same index */
  same?: boolean;
  /** we reject: message must match */
  reject?: RegExp;
  /** we warn: message must match */
  warn?: RegExp;
  /** samtools 1.16 also fails on it */
  samtoolsFails?: boolean;
}

const cases: Record<string, Case> = {
  'LF, several records': { text: '>a desc\nACGT\nAC\n>b\nACGTACGT\nACG\n', same: true },
  'CRLF': { text: '>a\r\nACGT\r\nAC\r\n>b\r\nAAAA\r\n', same: true },
  'no trailing newline': { text: '>a\nACGT\nAC', same: true },
  'single unterminated line': { text: '>a\nACGT', same: true },
  'blank lines before the first header and between records': { text: '\n\n>a\nACGT\n\n\n>b\nAC\n', same: true },
  'leading blank in the name': { text: '> a\nACGT\n', same: true },
  'tab in the header': { text: '>a\tb c\nACGT\n', same: true },
  'soft-mask, IUPAC, gap and stop': { text: '>a\nACgtRY\nN-*n\n', same: true },
  'CRLF only on the last line': { text: '>a\nACGT\nAC\r\n', same: true },
  'empty record in the middle (skipped, as samtools)': { text: '>a\n>b\nACGT\n', same: true, warn: /:1: record 'a' has no sequence/ },
  'repeated name (first kept, as samtools)': { text: '>a\nAC\n>b\nAA\n>a\nCC\n', same: true, warn: /:5: sequence name 'a' repeats the record on line 1/ },
  'empty last record (samtools fails; we skip it)': { text: '>a\nACGT\n>b\n', warn: /:3: record 'b' has no sequence/, samtoolsFails: true },
  'longer line inside a record': { text: '>ok\nAC\n>a\nACGT\nACGTA\nAC\n', reject: /:5: line has 5 bases, more than the 4 of the record's first line \(record 'a', header on line 3\)/, samtoolsFails: true },
  'short line inside a record': { text: '>a\nACGT\nAC\nACGT\n', reject: /:4: more sequence after line 3, which has 2 bases, fewer than/, samtoolsFails: true },
  'blank line inside a record': { text: '>a\nACGT\n\nAC\n', reject: /:4: more sequence after line 3, which is blank/, samtoolsFails: true },
  'blank first line of a record': { text: '>a\n\nACGT\n', reject: /:3: more sequence after line 2, which is blank/, samtoolsFails: true },
  'mixed line endings': { text: '>a\r\nACGT\r\nACGT\nAC\r\n', reject: /:4: more sequence after line 3, which ends with LF while earlier lines end with CRLF/, samtoolsFails: true },
  'classic Mac CR line endings': { text: '>a\rACGT\rAC\r', reject: /:1: carriage return not followed by a line feed/, samtoolsFails: true },
  'sequence before any header': { text: 'ACGT\n>a\nAC\n', reject: /:1: sequence before the first '>' header/, samtoolsFails: true },
  'header with no name (samtools writes an empty name)': { text: '>\nACGT\n', reject: /:1: header line has no sequence name/ },
  'space inside sequence (samtools writes a broken index)': { text: '>a\nAC GT\nAC\n', reject: /:2: ' ' at column 3 is not a sequence letter \(record 'a'/ },
  'digits inside sequence': { text: '>a\nAC12\n', reject: /:2: '1' at column 3 is not a sequence letter/ },
  'binary (not FASTA)': { text: '\u0000\u0001BAM', reject: /:1: expected a '>' header line/, samtoolsFails: true },
  'headers only': { text: '>a\n>b\n', reject: /no sequences found/, samtoolsFails: true },
};

for (const [name, c] of Object.entries(cases)) {
  test(`irregular input: ${name}`, async (t) => {
    const dir = tempDir('fai-case');
    const fa = join(dir, 'x.fa');
    writeFileSync(fa, c.text, 'latin1');
    const st = samtools('faidx', fa);
    const theirs = st.status === 0 && existsSync(`${fa}.fai`) ? readFileSync(`${fa}.fai`, 'utf8') : undefined;
    t.is(theirs === undefined, c.samtoolsFails === true, `samtools: ${st.stderr.trim()}`);
    if (c.reject) {
      const err = await t.throwsAsync(indexFasta(fa), { instanceOf: InputError });
      t.regex(err.message, c.reject);
      t.true(err.message.startsWith(`${fa}:`), 'names the file');
      t.false(err.message.includes('\n'), 'one line');
      t.log(err.message);
      return;
    }
    const res = await indexFasta(fa);
    if (c.same) t.is(formatFai(res.records), theirs ?? '(samtools failed)');
    if (c.warn) {
      t.is(res.warnings.length, 1);
      t.regex(res.warnings[0]!, c.warn);
      t.log(res.warnings[0]!);
    } else t.deepEqual(res.warnings, []);
  });
}

test('FaiBuilder gives the same index whatever the chunking (1-byte chunks, odd chunks)', (t) => {
  const text = readFileSync(fx('fasta/multi.fa'));
  const whole = new FaiBuilder('x');
  whole.push(text);
  const expected = formatFai(whole.finish());
  for (const size of [1, 7, 61, 1000]) {
    const b = new FaiBuilder('x');
    for (let i = 0; i < text.length; i += size) b.push(text.subarray(i, i + size));
    t.is(formatFai(b.finish()), expected, `chunk ${size}`);
  }
  const crlf = readFileSync(fx('fasta/crlf.fa'));
  const b1 = new FaiBuilder('x');
  for (let i = 0; i < crlf.length; i++) b1.push(crlf.subarray(i, i + 1)); // '\r' and '\n' in separate chunks
  t.is(formatFai(b1.finish()), readFileSync(fx('fasta/crlf.fa.fai'), 'utf8'));
});

test('malformed fixtures are rejected with file:line and record', async (t) => {
  const e1 = await t.throwsAsync(indexFasta(fx('fasta/irregular-lines.fa')), { instanceOf: InputError });
  t.regex(e1.message, /irregular-lines\.fa:5: line has 61 bases, more than the 60 of the record's first line \(record 'bad', header on line 3\)/);
  const e2 = await t.throwsAsync(indexFasta(fx('fasta/blank-line-inside.fa')), { instanceOf: InputError });
  t.regex(e2.message, /blank-line-inside\.fa:4: more sequence after line 3, which is blank/);
  t.false(existsSync(fx('fasta/irregular-lines.fa.fai')), 'no index written for malformed input');
});
