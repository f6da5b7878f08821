// The k-mer baseline: canonical counting by hand, strand invariance, smoothing, the counts file.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addKmerCounts, canonicalCount, KmerModel, readKmerCounts, writeKmerCounts } from '../../src/classify/kmer.js';
import { encode, reverseComplementIds } from '../../src/tokenizer/index.js';

const code = (s: string) => [...s].reduce((x, ch) => x * 4 + 'ACGT'.indexOf(ch), 0);

test('canonical 2-mers of ACGTNAA counted by hand', (t) => {
  // 2-mers: AC CG GT (TN, NA skipped) AA. Canonical: AC (rc GT → AC), CG (palindrome), GT → AC, AA (rc TT → AA)
  const counts = new Float64Array(16);
  addKmerCounts(encode('ACGTNAA'), 2, counts);
  t.is(counts[code('AC')], 2);
  t.is(counts[code('CG')], 1);
  t.is(counts[code('AA')], 1);
  t.is(counts.reduce((a, b) => a + b, 0), 4);
  t.is(counts[code('GT')], 0);
  t.is(counts[code('TT')], 0);
});

test('canonical k-mer count formula matches enumeration', (t) => {
  for (const k of [1, 2, 3, 4, 5]) {
    const seen = new Set<number>();
    const rc = (x: number) => { let y = 0; for (let i = 0; i < k; i++) { y = y * 4 + (3 - (x % 4)); x = Math.floor(x / 4); } return y; };
    for (let x = 0; x < 4 ** k; x++) seen.add(Math.min(x, rc(x)));
    t.is(canonicalCount(k), seen.size, `k ${k}`);
  }
});

test('scores are strand-blind, smoothing follows the formula, counts file round-trips', async (t) => {
  const k = 3;
  const counts = new Float64Array(2 * 64);
  addKmerCounts(encode('ACGATCGATTTACGAGGACCAT'), k, counts.subarray(0, 64));
  addKmerCounts(encode('GGGCCCGGGCGCGCCCGGAAAT'), k, counts.subarray(64, 128));
  const m = new KmerModel(k, 0.5, ['x', 'y'], counts);
  const ids = encode('ACGATCGGGCCAT');
  const s = m.scores(ids);
  const r = m.scores(reverseComplementIds(ids));
  t.true(Math.abs(s[0] - r[0]) < 1e-12 && Math.abs(s[1] - r[1]) < 1e-12);
  // log P(x | c) for one k-mer by hand
  let total0 = 0;
  for (let x = 0; x < 64; x++) total0 += counts[x];
  const x = code('ACG');
  t.true(Math.abs(m.logProb[x] - Math.log((counts[x] + 0.5) / (total0 + 0.5 * canonicalCount(k)))) < 1e-12);
  const p = m.probabilities(encode('GGGCCCGG'));
  t.true(p[1] > p[0]);
  const dir = mkdtempSync(join(tmpdir(), 'kmer-'));
  try {
    await writeKmerCounts(join(dir, 'c.npy'), counts, 2, k);
    t.deepEqual(await readKmerCounts(join(dir, 'c.npy'), 2, k), counts);
    await t.throwsAsync(readKmerCounts(join(dir, 'c.npy'), 3, k), { message: /does not match 3 species/ });
    writeFileSync(join(dir, 'bad.npy'), 'hello');
    await t.throwsAsync(readKmerCounts(join(dir, 'bad.npy'), 2, k), { message: /not a NumPy/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
