import test from 'ava';
import { writeTokenized } from '../../src/tokenizer/index.js';
import { FakeGenome, randomBases } from '../data/fake-genome.js';

/** Independent decoding: letter → id by indexOf in HyenaDNA's order, IUPAC → N. */
function idsOf(bases: string): string {
  return [...bases.toUpperCase()].map((c) => ('ACGT'.includes(c) ? 7 + 'ACGT'.indexOf(c) : 11)).join(' ');
}
function rcOf(bases: string): string {
  const comp: Record<string, string> = { A: 'T', C: 'G', G: 'C', T: 'A' };
  return [...bases.toUpperCase()].reverse().map((c) => comp[c] ?? 'N').join('');
}

async function run(g: FakeGenome, regions: { name: string; start: number; end: number }[], opts: Parameters<typeof writeTokenized>[3]) {
  const chunks: string[] = [];
  const n = await writeTokenized(g, regions, { write: async (c) => { chunks.push(typeof c === 'string' ? c : Buffer.from(c).toString('latin1')); } }, opts);
  return { text: chunks.join(''), n };
}

test('one line per region, across chunk boundaries, forward and reverse complement', async (t) => {
  const s = randomBases(1000, 4, 'ACGTacgtNRy');
  const g = new FakeGenome({ s });
  const regions = [{ name: 's', start: 0, end: 1000 }, { name: 's', start: 17, end: 18 }, { name: 's', start: 100, end: 357 }];
  for (const chunkBases of [1, 7, 64, 1 << 20]) {
    const fwd = await run(g, regions, { format: 'ids', chunkBases });
    t.is(fwd.text, regions.map((r) => idsOf(s.slice(r.start, r.end)) + '\n').join(''));
    t.is(fwd.n, 1258);
    const rc = await run(g, regions, { format: 'bases', reverseComplement: true, chunkBases, names: true });
    t.is(rc.text, regions.map((r) => `s:${r.start + 1}-${r.end}(-)\t${rcOf(s.slice(r.start, r.end))}\n`).join(''));
  }
});
