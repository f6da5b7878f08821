// BGZF writing (index --bgzip) checked by htslib: samtools reads our files by region, and the .fai/.gzi
// samtools builds for our BGZF file are byte-identical to ours. Also: bgzip's own output indexed by us.
import test from 'ava';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { InputError, UsageError } from '../../src/errors.js';
import { BGZF_EOF, bgzfBlockSize, readBgzfBlocks } from '../../src/genome/bgzf.js';
import { defaultBgzfPath, indexFasta } from '../../src/genome/index-fasta.js';
import { detectCompression } from '../../src/genome/source.js';
import { fx, hasTool, LAMBDA, LAMBDA_NAME, naiveFastaFile, repo, samtools, tempDir } from './helpers.js';

/** samtools faidx builds .fai + .gzi for a copy of `bgz`; both must equal ours. */
function samtoolsAgrees(t: import('ava').ExecutionContext, bgz: string): void {
  const dir = tempDir('st');
  const copy = join(dir, 'copy.fa.gz');
  copyFileSync(bgz, copy);
  const st = samtools('faidx', copy);
  t.is(st.status, 0, st.stderr);
  t.is(readFileSync(`${copy}.fai`, 'utf8'), readFileSync(`${bgz}.fai`, 'utf8'), '.fai');
  t.deepEqual(readFileSync(`${copy}.gzi`), readFileSync(`${bgz}.gzi`), '.gzi');
}

test('committed BGZF twins: samtools builds the same .fai and .gzi, and the file ends with the EOF block', (t) => {
  for (const f of ['lambda_virus.fa.gz', 'fasta/multi.fa.gz']) {
    samtoolsAgrees(t, fx(f));
    const buf = readFileSync(fx(f));
    t.deepEqual(buf.subarray(buf.length - 28), BGZF_EOF);
    t.deepEqual(gunzipSync(buf), readFileSync(fx(f.replace(/\.gz$/, ''))), 'gunzip gives back the plain twin');
  }
  t.is(readFileSync(fx('lambda_virus.fa.gz.gzi')).readBigUInt64LE(0), 6n, '7 blocks of 8 KiB → 6 .gzi entries');
});

test('index --bgzip of plain FASTA: samtools faidx x.fa.gz chr:1-10 works and matches the input', async (t) => {
  const dir = tempDir('bgz');
  const fa = join(dir, 'lambda.fa');
  copyFileSync(LAMBDA, fa);
  const res = await indexFasta(fa, { bgzip: true });
  t.is(res.fasta, `${fa}.gz`);
  t.true(res.wroteBgzf);
  t.is(await detectCompression(res.fasta), 'bgzf');
  const seq = naiveFastaFile(LAMBDA).get(LAMBDA_NAME)!;
  for (const [a, b] of [[1, 10], [70, 71], [48_000, 48_502]] as const) {
    const st = samtools('faidx', res.fasta, `${LAMBDA_NAME}:${a}-${b}`);
    t.is(st.status, 0, st.stderr);
    t.is(st.stdout.split('\n').slice(1).join(''), seq.slice(a - 1, b));
  }
  samtoolsAgrees(t, res.fasta);
  t.deepEqual(readFileSync(fa), readFileSync(LAMBDA), 'input untouched');
});

test('index --bgzip of a plain-gzip bacterial genome (H. pylori, 1.6 Mb, 27 blocks): samtools agrees', async (t) => {
  const dir = tempDir('bgz-bact');
  const gz = join(dir, 'G27.fasta.gz');
  copyFileSync(join(repo, '..', 'shared', 'data', 'bacteria', 'H.Pylori', 'G27.fasta.gz'), gz);
  t.is(await detectCompression(gz), 'gzip');
  const res = await indexFasta(gz, { bgzip: true });
  t.is(res.fasta, join(dir, 'G27.bgz.fasta.gz'));
  samtoolsAgrees(t, res.fasta);
  t.deepEqual(gunzipSync(readFileSync(res.fasta)), gunzipSync(readFileSync(gz)));
  let blocks = 0;
  for await (const b of readBgzfBlocks(res.fasta)) {
    t.true(b.size <= 65536 && b.dataLength <= 65280);
    blocks++;
  }
  t.log(`${blocks} BGZF blocks (EOF included), ${res.records.length} record(s)`);
  const name = res.records[0]!.name;
  const st = samtools('faidx', res.fasta, `${name}:1-10`);
  t.is(st.status, 0, st.stderr);
});

test('bgzip (htslib) output is indexed by us exactly as samtools does', async (t) => {
  if (!hasTool('bgzip')) {
    t.log('bgzip not installed (Debian package tabix): skipped');
    t.pass();
    return;
  }
  const dir = tempDir('bgzip');
  const fa = join(dir, 'multi.fa');
  copyFileSync(fx('fasta/multi.fa'), fa);
  const big = join(dir, 'big.fa');
  // > 64 KiB so bgzip writes several blocks
  writeFileSync(big, readFileSync(LAMBDA, 'latin1').repeat(3).replace(/>gi[^\n]*/g, (h, i: number) => `>r${i} ${h.slice(1)}`));
  for (const f of [fa, big]) {
    const r = (await import('node:child_process')).spawnSync('bgzip', ['-k', f]);
    t.is(r.status, 0);
    const res = await indexFasta(`${f}.gz`);
    t.false(res.wroteBgzf);
    const ours = { fai: readFileSync(res.fai), gzi: readFileSync(res.gzi!) };
    t.is(samtools('faidx', `${f}.gz`).status, 0);
    t.deepEqual(readFileSync(res.fai), ours.fai);
    t.deepEqual(readFileSync(res.gzi!), ours.gzi);
  }
});

test('output naming never hits the input; an existing copy needs --force', async (t) => {
  t.is(defaultBgzfPath('x/hg38.fa', 'none'), 'x/hg38.fa.gz');
  t.is(defaultBgzfPath('x/hg38.fa.gz', 'gzip'), 'x/hg38.bgz.fa.gz');
  t.is(defaultBgzfPath('x/G27.fasta.gz', 'gzip'), 'x/G27.bgz.fasta.gz');
  t.is(defaultBgzfPath('x.y/genome', 'gzip'), 'x.y/genome.bgz.gz');
  const dir = tempDir('bgz-name');
  const fa = join(dir, 'a.fa');
  copyFileSync(fx('fasta/multi.fa'), fa);
  await indexFasta(fa, { bgzip: true });
  await t.throwsAsync(indexFasta(fa, { bgzip: true }), { instanceOf: UsageError, message: /a\.fa\.gz already exists; pass --force/ });
  await t.throwsAsync(indexFasta(fa, { bgzip: true, out: fa }), { instanceOf: UsageError, message: /is the input file/ });
  const out = join(dir, 'chosen.gz');
  const res = await indexFasta(fa, { bgzip: true, out });
  t.true(existsSync(`${out}.fai`) && existsSync(`${out}.gzi`));
  t.is(res.fasta, out);
  await t.throwsAsync(indexFasta(fa, { out }), { instanceOf: UsageError, message: /--out names the BGZF copy; use it with --bgzip/ });
});

test('plain gzip without --bgzip: the one message; malformed FASTA inside gzip leaves no output', async (t) => {
  const dir = tempDir('gz');
  const gz = join(dir, 'x.fa.gz');
  writeFileSync(gz, gzipSync('>a\nACGT\n'));
  await t.throwsAsync(indexFasta(gz), {
    instanceOf: InputError,
    message: `${gz} is plain gzip, which cannot be read by position; run 'mamba-dna index --bgzip ${gz}' to write a BGZF copy with its index`,
  });
  const bad = join(dir, 'bad.fa.gz');
  writeFileSync(bad, gzipSync('>a\nACGT\nACGTA\n'));
  await t.throwsAsync(indexFasta(bad, { bgzip: true }), { instanceOf: InputError, message: /bad\.fa\.gz:3: line has 5 bases/ });
  t.false(existsSync(join(dir, 'bad.bgz.fa.gz')));
  const trunc = join(dir, 'trunc.fa.gz');
  writeFileSync(trunc, gzipSync('>a\n' + 'ACGT\n'.repeat(1000)).subarray(0, 40));
  await t.throwsAsync(indexFasta(trunc, { bgzip: true }), { instanceOf: InputError, message: /gzip data is damaged/ });
});

test('bgzfBlockSize recognises BGZF headers only', (t) => {
  t.is(bgzfBlockSize(BGZF_EOF), 28);
  t.is(bgzfBlockSize(gzipSync('x')), undefined);
  t.is(bgzfBlockSize(Buffer.from('>chr1\n')), undefined);
});
