// End to end: spawn the real binary (node bin/mamba-dna.js) for `index` and `info` on fixtures; check
// stdout, stderr (one line, no stack trace) and the exit code for every error class, and `| head`.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fx, LAMBDA, LAMBDA_NAME, naiveFastaFile, repo, samtools, tempDir } from '../genome/helpers.js';

const BIN = join(repo, 'bin', 'mamba-dna.js');

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: repo });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit code 3 (input), nothing on stdout, one stderr line matching `re`, no stack trace. */
function inputError(t: import('ava').ExecutionContext, args: string[], re: RegExp, code = 3): void {
  const r = run(...args);
  t.is(r.code, code, `${args.join(' ')}: ${r.stderr}`);
  t.is(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0]!, /^mamba-dna: /);
  t.regex(lines[0]!, re);
  t.notRegex(r.stderr, /\n\s+at /);
  t.log(lines[0]!);
}

test('index writes the same .fai as samtools; --bgzip output is read by samtools', (t) => {
  const dir = tempDir('cli-index');
  const fa = join(dir, 'multi.fa');
  copyFileSync(fx('fasta/multi.fa'), fa);
  const r = run('index', fa);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '');
  t.regex(r.stderr, /^mamba-dna: wrote \S+multi\.fa\.fai \(6 sequences, 932 bases\)\n$/);
  t.is(readFileSync(`${fa}.fai`, 'utf8'), readFileSync(fx('fasta/multi.fa.fai'), 'utf8'));
  const b = run('index', '--bgzip', '-q', fa);
  t.is(b.code, 0, b.stderr);
  t.is(b.stderr, '');
  const st = samtools('faidx', `${fa}.gz`, 'chr2:60-63', 'HLA-A*01:01:01:01:1-10');
  t.is(st.status, 0, st.stderr);
  const truth = naiveFastaFile(fa);
  t.is(st.stdout, `>chr2:60-63\n${truth.get('chr2')!.slice(59, 63)}\n>HLA-A*01:01:01:01:1-10\n${truth.get('HLA-A*01:01:01:01')!.slice(0, 10)}\n`);
  const again = run('index', '--bgzip', fa);
  t.is(again.code, 2);
  t.regex(again.stderr, /multi\.fa\.gz already exists; pass --force/);
});

test('index warns about repeated names and empty records (file:line) and still exits 0', (t) => {
  const dir = tempDir('cli-warn');
  const fa = join(dir, 'd.fa');
  copyFileSync(fx('fasta/duplicate-names.fa'), fa);
  const r = run('index', fa);
  t.is(r.code, 0);
  t.regex(r.stderr, /^mamba-dna: warning: \S+d\.fa:6: sequence name 'a' repeats the record on line 1/);
});

test('info: table and --json, plain and BGZF twins agree with an independent count', (t) => {
  const table = run('info', fx('fasta/multi.fa'));
  t.is(table.code, 0, table.stderr);
  t.is(table.stderr, '');
  const lines = table.stdout.trimEnd().split('\n');
  t.regex(lines[0]!, /^name\s+length\s+N\s+GC\(non-N\)\s+soft-masked$/);
  t.is(lines.length, 8);
  t.regex(lines[1]!, /^chr1\s+300\s+40\s+0\.\d{4}\s+0\.2667$/);
  t.regex(lines[5]!, /^chrN\s+130\s+130\s+-\s+0\.0000$/);
  t.regex(lines[7]!, /^total\s+932\s+/);
  t.is(run('info', fx('fasta/multi.fa.gz')).stdout, table.stdout);

  const j = run('info', '--json', fx('lambda_virus.fa.gz'));
  t.is(j.code, 0, j.stderr);
  const doc = JSON.parse(j.stdout);
  const seq = naiveFastaFile(LAMBDA).get(LAMBDA_NAME)!;
  const gc = (seq.match(/[GC]/g) ?? []).length;
  t.is(doc.gcFractionOf, 'non-N bases');
  t.deepEqual(doc.regions[0], { name: LAMBDA_NAME, start: 0, end: 48502, length: 48502, nCount: 0, gcCount: gc, lowercaseCount: 0, gcFraction: gc / 48502, softMaskedFraction: 0 });
  t.is(doc.total.regions, 1);
});

test('info with regions and a BED split', (t) => {
  const r = run('info', LAMBDA, `${LAMBDA_NAME}:1-70`, `${LAMBDA_NAME}:48433`);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /\|:1-70\s+70\s/);
  t.regex(r.stdout, /\|:48433-48502\s+70\s/);
  const b = run('info', '--json', LAMBDA, '--bed', fx('lambda_splits.bed'), '--split', 'train');
  t.is(b.code, 0, b.stderr);
  const doc = JSON.parse(b.stdout);
  t.deepEqual(doc.regions.map((x: { start: number; label: string }) => [x.start, x.label]), [[0, 'train'], [40000, 'train']]);
  t.is(doc.total.length, 28502);
});

test('every error class: one stderr line with the fix, exit code, no stack trace', (t) => {
  const dir = tempDir('cli-err');
  inputError(t, ['info', join(dir, 'missing.fa')], /missing\.fa: no such FASTA file/);
  inputError(t, ['index', join(dir, 'missing.fa')], /missing\.fa: no such FASTA file/);
  mkdirSync(join(dir, 'adir'));
  inputError(t, ['info', join(dir, 'adir')], /adir: is a directory, expected a FASTA file/);
  inputError(t, ['index', join(dir, 'adir')], /adir: is a directory, expected a FASTA file/);
  writeFileSync(join(dir, 'empty.fa'), '');
  inputError(t, ['info', join(dir, 'empty.fa')], /empty\.fa: empty file/);
  inputError(t, ['index', join(dir, 'empty.fa')], /empty\.fa: empty file/);
  const gz = join(dir, 'plain.fa.gz');
  writeFileSync(gz, gzipSync(readFileSync(LAMBDA)));
  const msg = new RegExp(`^mamba-dna: ${gz.replace(/[.]/g, '\\.')} is plain gzip, which cannot be read by position; run 'mamba-dna index --bgzip ${gz.replace(/[.]/g, '\\.')}' to write a BGZF copy with its index$`);
  inputError(t, ['info', gz], msg);
  inputError(t, ['index', gz], msg);
  const fa = join(dir, 'l.fa');
  copyFileSync(LAMBDA, fa);
  inputError(t, ['info', fa], /l\.fa: no index \S+l\.fa\.fai beside it; run 'mamba-dna index \S+l\.fa' to write it/);
  writeFileSync(`${fa}.fai`, readFileSync(fx('fasta/multi.fa.fai')));
  inputError(t, ['info', fa], /l\.fa\.fai: does not match \S+l\.fa \(.*\); rerun 'mamba-dna index \S+l\.fa'/);
  inputError(t, ['info', LAMBDA, 'chr1:1-10'], /lambda_virus\.fa: no sequence named 'chr1' \(sequences: 'gi\|9626243\|ref\|NC_001416\.1\|'\)/);
  inputError(t, ['info', LAMBDA, `${LAMBDA_NAME}:48000-48503`], /region '.*:48000-48503' is outside '.*', which has 48502 bases \(1-48502\)/);
  inputError(t, ['info', LAMBDA, '--bed', fx('malformed.bed')], /malformed\.bed:3: end 'abc' is not a whole number/);
  inputError(t, ['index', fx('fasta/irregular-lines.fa')], /irregular-lines\.fa:5: line has 61 bases, more than the 60 of the record's first line \(record 'bad', header on line 3\)/);
  inputError(t, ['info', LAMBDA, `${LAMBDA_NAME}:0-5`], /positions are 1-based/, 2);
  inputError(t, ['info', LAMBDA, '--split', 'train'], /--split selects rows of a --bed file/, 2);
});

test('`info | head -n 2` on a 4,000-record genome exits 0 quietly', (t) => {
  const dir = tempDir('cli-head');
  const fa = join(dir, 'many.fa');
  const parts: string[] = [];
  for (let i = 0; i < 4000; i++) parts.push(`>contig_${String(i).padStart(5, '0')}\n${'ACGTTGCA'.repeat(8)}\nACGT\n`);
  writeFileSync(fa, parts.join(''));
  t.is(run('index', '-q', fa).code, 0);
  const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" info "${fa}" | head -n 2; echo "status=\${PIPESTATUS[0]}" >&2`], { encoding: 'utf8' });
  t.is(r.stdout.split('\n').length, 3);
  t.regex(r.stdout, /^name\s+length/);
  t.is(r.stderr, 'status=0\n');
});
