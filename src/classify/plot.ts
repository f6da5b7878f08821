// The confusion matrix as a hand-written SVG heat map: rows = true species, columns = predicted,
// cell colour = fraction of the row (recall), cell text = count and percentage. No dependencies.
import type { ClassificationReport } from './metrics.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** White → dark blue. */
function colour(f: number): string {
  const lerp = (a: number, b: number) => Math.round(a + (b - a) * f);
  return `rgb(${lerp(247, 8)},${lerp(251, 48)},${lerp(255, 107)})`;
}

export function confusionSvg(r: ClassificationReport, title: string): string {
  const C = r.labels.length;
  const cell = Math.max(56, Math.min(96, Math.floor(560 / Math.max(1, C))));
  const labelW = 16 + 7.5 * Math.max(...r.labels.map((l) => l.length), 4);
  const left = labelW + 28;
  const top = 70 + 7 * Math.max(...r.labels.map((l) => l.length), 4) * 0.75;
  const width = Math.ceil(left + C * cell + 30);
  const height = Math.ceil(top + C * cell + 60);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" font-size="15" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${width / 2}" y="42" font-size="12" text-anchor="middle">accuracy ${(r.accuracy * 100).toFixed(1)}% (${r.correct}/${r.samples}), chance ${(100 / C).toFixed(1)}%</text>`);
  out.push(`<text x="${left + (C * cell) / 2}" y="${top - 8 - 7 * Math.max(...r.labels.map((l) => l.length), 4) * 0.75 + 4}" font-size="12" text-anchor="middle" font-style="italic">predicted</text>`);
  out.push(`<text transform="translate(14 ${top + (C * cell) / 2}) rotate(-90)" font-size="12" text-anchor="middle" font-style="italic">true</text>`);
  for (let i = 0; i < C; i++) {
    const rowTotal = r.confusion[i].reduce((a, b) => a + b, 0);
    out.push(`<text x="${left - 6}" y="${top + i * cell + cell / 2 + 4}" font-size="12" text-anchor="end">${esc(r.labels[i])}</text>`);
    out.push(`<text transform="translate(${left + i * cell + cell / 2 + 4} ${top - 6}) rotate(-45)" font-size="12" text-anchor="start">${esc(r.labels[i])}</text>`);
    for (let j = 0; j < C; j++) {
      const n = r.confusion[i][j];
      const f = rowTotal === 0 ? 0 : n / rowTotal;
      const x = left + j * cell;
      const y = top + i * cell;
      out.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${colour(f)}" stroke="#888" stroke-width="0.5"><title>${esc(r.labels[i])} → ${esc(r.labels[j])}: ${n}</title></rect>`);
      const ink = f > 0.5 ? 'white' : 'black';
      out.push(`<text x="${x + cell / 2}" y="${y + cell / 2 - 2}" font-size="13" text-anchor="middle" fill="${ink}">${n}</text>`);
      out.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 14}" font-size="10" text-anchor="middle" fill="${ink}">${rowTotal === 0 ? '-' : `${(f * 100).toFixed(0)}%`}</text>`);
    }
  }
  out.push(`<text x="${left}" y="${height - 14}" font-size="10" fill="#555">cells: count and fraction of the true species' samples (row); colour = that fraction</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
