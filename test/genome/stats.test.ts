// info's numbers (N count, GC of non-N bases, soft-masked fraction) against an independent count made
// with regular expressions on the naive parse of the file; chunked counting equals one-shot counting.
import test from 'ava';
import { regionStats } from '../../src/genome/stats.js';
import { fx, naiveFastaFile, openForTest } from './helpers.js';

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

for (const f of ['fasta/multi.fa', 'fasta/multi.fa.gz', 'lambda_virus.fa.gz']) {
  test(`regionStats agrees with an independent count: ${f}`, async (t) => {
    const truth = naiveFastaFile(fx(f.replace(/\.gz$/, '')));
    const g = await openForTest(t, fx(f));
    for (const { name, length } of g.sequences) {
      const s = truth.get(name)!;
      const n = count(s, /[Nn]/g);
      const gc = count(s, /[GCgc]/g);
      const lower = count(s, /[a-z]/g);
      for (const chunk of [7, 61, 1 << 22]) {
        const st = await regionStats(g, { name, start: 0, end: length }, chunk);
        t.is(st.length, s.length);
        t.is(st.nCount, n, `${name} N`);
        t.is(st.gcCount, gc, `${name} GC`);
        t.is(st.lowercaseCount, lower, `${name} lowercase`);
        t.is(st.gcFraction, n === s.length ? null : gc / (s.length - n));
        t.is(st.softMaskedFraction, lower / s.length);
      }
    }
  });
}

test('hand-checkable: chr1 of multi.fa has 40 N (30 N + 10 n) and 80 lowercase (70 + 10 n)', async (t) => {
  const g = await openForTest(t, fx('fasta/multi.fa'));
  const st = await regionStats(g, { name: 'chr1', start: 0, end: 300 });
  t.is(st.nCount, 40);
  t.is(st.lowercaseCount, 80);
  const sub = await regionStats(g, { name: 'chr1', start: 200, end: 230, label: 'x' });
  t.deepEqual([sub.nCount, sub.gcFraction, sub.softMaskedFraction, sub.label], [30, null, 0, 'x']);
});
