// The golden fixture (scripts/golden/make_golden.py) is self-consistent and agrees with what our loader
// reads: logits = hidden · embeddingᵀ (tied head) and nll = -log softmax(logits)[next token], recomputed
// here in float64 from the weights as loadCheckpoint returns them.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { dims } from '../../src/model/config.js';

const expected = JSON.parse(readFileSync('fixtures/golden/tiny/expected.json', 'utf8'));
const IDS: Record<string, number> = { A: 7, C: 8, G: 9, T: 10, N: 11 };

test('expected.json has the documented shapes and token ids', (t) => {
  const { L, D, V } = expected;
  t.is(L, 67);
  t.is(expected.bases.length, L);
  t.deepEqual(expected.tokens, [...expected.bases].map((b: string) => IDS[b]));
  t.is(expected.hidden.length, L);
  t.true(expected.hidden.every((r: number[]) => r.length === D));
  t.true(expected.logits.every((r: number[]) => r.length === V));
  t.is(expected.mixer_outputs.length, 2);
  t.is(expected.nll.length, L - 1);
  t.true(expected.max_abs_diff_recurrent_vs_full < 1e-10, 'the script checked its recurrent step against its full forward');
  const fasta = readFileSync('fixtures/lambda_virus.fa', 'utf8').split('\n').filter((l) => !l.startsWith('>')).join('').toUpperCase();
  t.is(fasta.slice(1000, 1067), expected.bases, 'bases are NC_001416.1:1000-1067 of the bundled lambda genome');
});

test('logits = final hidden · tied embeddingᵀ and the loss is the mean next-base NLL, from our loaded weights', async (t) => {
  const { config, weights } = await loadCheckpoint('fixtures/golden/tiny');
  const { D, V } = dims(config);
  t.is(V, expected.V);
  t.is(D, expected.D);
  let maxDiff = 0;
  for (let l = 0; l < expected.L; l++) {
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += expected.hidden[l][d] * weights.embedding[v * D + d]!;
      maxDiff = Math.max(maxDiff, Math.abs(s - expected.logits[l][v]));
    }
  }
  let nllSum = 0;
  let nllDiff = 0;
  for (let l = 0; l < expected.L - 1; l++) {
    const row: number[] = expected.logits[l];
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
    const nll = lse - row[expected.tokens[l + 1]]!;
    nllDiff = Math.max(nllDiff, Math.abs(nll - expected.nll[l]));
    nllSum += nll;
  }
  t.log(`max |hidden·Eᵀ - logits| ${maxDiff.toExponential(2)}, max |nll diff| ${nllDiff.toExponential(2)}, loss ${expected.loss}`);
  t.true(maxDiff < 1e-12);
  t.true(nllDiff < 1e-12);
  t.true(Math.abs(nllSum / (expected.L - 1) - expected.loss) < 1e-12);
});
