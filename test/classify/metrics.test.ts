// Classification metrics against confusion matrices computed by hand.
import test from 'ava';
import { classificationReport, confusionMatrix, f1Score, formatReport, reportFromConfusion } from '../../src/classify/metrics.js';

test('three species, one never predicted: confusion, accuracy, precision/recall/F1 by hand', (t) => {
  // truth:     a a a a b b b c c
  // predicted: a a b a b b a a b      (c is never predicted)
  const truth = [0, 0, 0, 0, 1, 1, 1, 2, 2];
  const pred = [0, 0, 1, 0, 1, 1, 0, 0, 1];
  const r = classificationReport(['a', 'b', 'c'], truth, pred);
  t.deepEqual(r.confusion, [[3, 1, 0], [1, 2, 0], [1, 1, 0]]);
  t.is(r.samples, 9);
  t.is(r.correct, 5);
  t.is(r.accuracy, 5 / 9);
  const [a, b, c] = r.perSpecies;
  // a: TP 3, predicted 5 (3+1+1), support 4 → P 3/5, R 3/4, F1 2·0.6·0.75/1.35 = 2/3
  t.is(a.precision, 3 / 5);
  t.is(a.recall, 3 / 4);
  t.true(Math.abs(a.f1! - 2 / 3) < 1e-15);
  // b: TP 2, predicted 4, support 3 → P 1/2, R 2/3, F1 4/7
  t.is(b.precision, 1 / 2);
  t.is(b.recall, 2 / 3);
  t.true(Math.abs(b.f1! - 4 / 7) < 1e-15);
  // c: never predicted → precision null (0/0), recall 0, F1 0
  t.is(c.predicted, 0);
  t.is(c.precision, null);
  t.is(c.recall, 0);
  t.is(c.f1, 0);
  t.true(Math.abs(r.macroF1! - (2 / 3 + 4 / 7 + 0) / 3) < 1e-15);
  const text = formatReport(r);
  t.regex(text, /accuracy 0\.5556 \(5\/9\)/);
  t.regex(text, /c\s+-\s+0\.0000\s+0\.0000\s+2/);
});

test('a species with no samples has recall null; a perfect classifier scores 1 everywhere', (t) => {
  const r = reportFromConfusion(['x', 'y', 'z'], [[2, 0, 0], [0, 3, 0], [0, 0, 0]]);
  t.is(r.perSpecies[2].recall, null);
  t.is(r.perSpecies[2].precision, null);
  t.is(r.perSpecies[2].f1, null);
  t.is(r.accuracy, 1);
  t.is(r.macroF1, 1); // the null F1 is left out of the mean
  // predicted but no support: precision 0, recall null → F1 0
  const s = reportFromConfusion(['x', 'y'], [[1, 1], [0, 0]]);
  t.is(s.perSpecies[1].precision, 0);
  t.is(s.perSpecies[1].recall, null);
  t.is(s.perSpecies[1].f1, 0);
  t.is(f1Score(0, 0), 0);
  t.is(f1Score(null, null), null);
});

test('bad labels are refused', (t) => {
  t.throws(() => confusionMatrix(2, [0, 2], [0, 1]), { message: /outside \[0, 2\)/ });
  t.throws(() => confusionMatrix(2, [0], [0, 1]), { message: /1 true labels, 2 predictions/ });
});
