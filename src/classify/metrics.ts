// Classification metrics from (true, predicted) label pairs: the confusion matrix (rows = true
// species, columns = predicted), accuracy, and per-species precision, recall and F1.
// Undefined ratios are null, never a silent 0: precision is null for a species never predicted
// (0/0), recall is null for a species with no samples. F1 is 2PR/(P+R); it is 0 when one of P, R is
// null and the other is 0 (a species that was never predicted but had samples scores F1 0, as every
// sample of it was missed), null when both are null, and 0 when P = R = 0. Macro F1 averages the
// non-null F1 values.

export interface SpeciesMetrics {
  species: string;
  /** samples whose true label is this species */
  support: number;
  /** samples predicted as this species */
  predicted: number;
  truePositives: number;
  precision: number | null;
  recall: number | null;
  f1: number | null;
}

export interface ClassificationReport {
  labels: string[];
  /** confusion[i][j] = samples of true species i predicted as species j */
  confusion: number[][];
  samples: number;
  correct: number;
  accuracy: number;
  perSpecies: SpeciesMetrics[];
  macroF1: number | null;
}

export function confusionMatrix(nClasses: number, truth: ArrayLike<number>, predicted: ArrayLike<number>): number[][] {
  if (truth.length !== predicted.length) throw new RangeError(`confusionMatrix: ${truth.length} true labels, ${predicted.length} predictions`);
  const m = Array.from({ length: nClasses }, () => new Array<number>(nClasses).fill(0));
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    const p = predicted[i];
    if (!(t >= 0 && t < nClasses && p >= 0 && p < nClasses && Number.isInteger(t) && Number.isInteger(p))) {
      throw new RangeError(`confusionMatrix: sample ${i} has labels (${t}, ${p}) outside [0, ${nClasses})`);
    }
    m[t][p]++;
  }
  return m;
}

export function f1Score(precision: number | null, recall: number | null): number | null {
  if (precision === null && recall === null) return null;
  if (precision === null || recall === null) return (precision ?? recall) === 0 ? 0 : null;
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

/** The full report of a confusion matrix whose row/column order is `labels`. */
export function reportFromConfusion(labels: readonly string[], confusion: number[][]): ClassificationReport {
  const C = labels.length;
  if (confusion.length !== C || confusion.some((r) => r.length !== C)) throw new RangeError(`confusion matrix is not ${C}×${C}`);
  let samples = 0;
  let correct = 0;
  for (let i = 0; i < C; i++) {
    for (let j = 0; j < C; j++) samples += confusion[i][j];
    correct += confusion[i][i];
  }
  const perSpecies: SpeciesMetrics[] = labels.map((species, c) => {
    let support = 0;
    let predicted = 0;
    for (let j = 0; j < C; j++) support += confusion[c][j];
    for (let i = 0; i < C; i++) predicted += confusion[i][c];
    const tp = confusion[c][c];
    const precision = predicted === 0 ? null : tp / predicted;
    const recall = support === 0 ? null : tp / support;
    return { species, support, predicted, truePositives: tp, precision, recall, f1: f1Score(precision, recall) };
  });
  const f1s = perSpecies.map((s) => s.f1).filter((f): f is number => f !== null);
  return {
    labels: [...labels], confusion: confusion.map((r) => [...r]), samples, correct,
    accuracy: samples === 0 ? 0 : correct / samples,
    perSpecies,
    macroF1: f1s.length === 0 ? null : f1s.reduce((a, b) => a + b, 0) / f1s.length,
  };
}

export function classificationReport(labels: readonly string[], truth: ArrayLike<number>, predicted: ArrayLike<number>): ClassificationReport {
  return reportFromConfusion(labels, confusionMatrix(labels.length, truth, predicted));
}

const fmt = (x: number | null, digits = 4) => (x === null ? '-' : x.toFixed(digits));

/** Plain-text tables: summary, per-species metrics, confusion matrix (rows true, columns predicted). */
export function formatReport(r: ClassificationReport): string {
  const w = Math.max(7, ...r.labels.map((l) => l.length));
  const pad = (s: string, n = w) => s.padEnd(n);
  const lines: string[] = [];
  lines.push(`accuracy ${fmt(r.accuracy)} (${r.correct}/${r.samples})  macro-F1 ${fmt(r.macroF1)}  chance ${fmt(r.labels.length ? 1 / r.labels.length : null)}`);
  lines.push('');
  lines.push(`${pad('species')}  precision  recall  f1      support`);
  for (const s of r.perSpecies) {
    lines.push(`${pad(s.species)}  ${fmt(s.precision).padStart(9)}  ${fmt(s.recall).padStart(6)}  ${fmt(s.f1).padStart(6)}  ${String(s.support).padStart(7)}`);
  }
  lines.push('');
  const cw = Math.max(6, ...r.labels.map((l) => l.length), ...r.confusion.flat().map((v) => String(v).length));
  lines.push(`${pad('true \\ predicted', Math.max(w, 16))}  ${r.labels.map((l) => l.padStart(cw)).join('  ')}`);
  r.confusion.forEach((row, i) => lines.push(`${pad(r.labels[i], Math.max(w, 16))}  ${row.map((v) => String(v).padStart(cw)).join('  ')}`));
  return `${lines.join('\n')}\n`;
}
