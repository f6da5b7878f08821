// Training curves of a pretrain run as a standalone SVG (hand-written, no browser or library):
// top panel bits per base vs step — the per-step training loss (faint), its moving average, and the
// validation curve (points joined); bottom panel the learning rate. Axes with nice ticks, labels, a
// legend and a title. Input: the records of RUN/metrics.jsonl.
import type { MetricsRecord, TrainRecord, ValidRecord } from '../train/metrics.js';
import { niceTicks, tickLabel } from './ticks.js';

export interface PlotOptions {
  title?: string;
  subtitle?: string;
  width?: number;
  height?: number;
  /** moving-average window over training steps (default: about 1/50 of the steps, at least 1) */
  smooth?: number;
  /** a horizontal reference line, e.g. a known entropy rate */
  reference?: { value: number; label: string };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number) => (Math.round(v * 100) / 100).toString();

export const COLORS = { train: '#9ecae1', smooth: '#1f77b4', valid: '#d62728', lr: '#2ca02c', reference: '#7f7f7f', grid: '#e5e5e5', axis: '#333333' };

/** Trailing moving average (window w) of the values. */
export function movingAverage(values: readonly number[], w: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    if (i >= w) sum -= values[i - w];
    out.push(sum / Math.min(i + 1, w));
  }
  return out;
}

interface Panel {
  x: number;
  y: number;
  w: number;
  h: number;
}

interface Series {
  points: Array<[number, number]>;
  color: string;
  width: number;
  opacity?: number;
  dash?: string;
  markers?: boolean;
}

function axes(p: Panel, xr: ReturnType<typeof niceTicks>, yr: ReturnType<typeof niceTicks>, xLabel: string | undefined, yLabel: string, out: string[]): void {
  const sx = (v: number) => p.x + ((v - xr.min) / (xr.max - xr.min)) * p.w;
  const sy = (v: number) => p.y + p.h - ((v - yr.min) / (yr.max - yr.min)) * p.h;
  for (const t of yr.ticks) {
    out.push(`<line x1="${num(p.x)}" y1="${num(sy(t))}" x2="${num(p.x + p.w)}" y2="${num(sy(t))}" stroke="${COLORS.grid}" stroke-width="1"/>`);
    out.push(`<line x1="${num(p.x - 5)}" y1="${num(sy(t))}" x2="${num(p.x)}" y2="${num(sy(t))}" stroke="${COLORS.axis}"/>`);
    out.push(`<text x="${num(p.x - 8)}" y="${num(sy(t) + 4)}" text-anchor="end" font-size="12">${esc(tickLabel(t, yr.step))}</text>`);
  }
  for (const t of xr.ticks) {
    out.push(`<line x1="${num(sx(t))}" y1="${num(p.y)}" x2="${num(sx(t))}" y2="${num(p.y + p.h)}" stroke="${COLORS.grid}" stroke-width="1"/>`);
    out.push(`<line x1="${num(sx(t))}" y1="${num(p.y + p.h)}" x2="${num(sx(t))}" y2="${num(p.y + p.h + 5)}" stroke="${COLORS.axis}"/>`);
    out.push(`<text x="${num(sx(t))}" y="${num(p.y + p.h + 19)}" text-anchor="middle" font-size="12">${esc(tickLabel(t, xr.step))}</text>`);
  }
  out.push(`<rect x="${num(p.x)}" y="${num(p.y)}" width="${num(p.w)}" height="${num(p.h)}" fill="none" stroke="${COLORS.axis}" stroke-width="1"/>`);
  if (xLabel) out.push(`<text x="${num(p.x + p.w / 2)}" y="${num(p.y + p.h + 40)}" text-anchor="middle" font-size="13">${esc(xLabel)}</text>`);
  const ly = p.y + p.h / 2;
  out.push(`<text x="${num(p.x - 58)}" y="${num(ly)}" text-anchor="middle" font-size="13" transform="rotate(-90 ${num(p.x - 58)} ${num(ly)})">${esc(yLabel)}</text>`);
}

function draw(p: Panel, xr: ReturnType<typeof niceTicks>, yr: ReturnType<typeof niceTicks>, s: Series, out: string[]): void {
  if (s.points.length === 0) return;
  const sx = (v: number) => p.x + ((v - xr.min) / (xr.max - xr.min)) * p.w;
  const sy = (v: number) => p.y + p.h - ((Math.min(Math.max(v, yr.min), yr.max) - yr.min) / (yr.max - yr.min)) * p.h;
  const d = s.points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${num(sx(x))},${num(sy(y))}`).join('');
  out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width}"${s.opacity !== undefined ? ` stroke-opacity="${s.opacity}"` : ''}${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} stroke-linejoin="round"/>`);
  if (s.markers) for (const [x, y] of s.points) out.push(`<circle cx="${num(sx(x))}" cy="${num(sy(y))}" r="3.5" fill="${s.color}"/>`);
}

/** The SVG document for a run's metrics. */
export function trainingPlotSvg(records: readonly MetricsRecord[], o: PlotOptions = {}): string {
  const width = o.width ?? 900;
  const height = o.height ?? 620;
  const train = records.filter((r): r is TrainRecord => r.type === 'train' && Number.isFinite(r.bitsPerBase));
  const valid = records.filter((r): r is ValidRecord => r.type === 'valid' && Number.isFinite(r.bitsPerBase));
  const maxStep = Math.max(1, ...train.map((r) => r.step), ...valid.map((r) => r.step));
  const smoothW = o.smooth ?? Math.max(1, Math.round(train.length / 50));
  const smoothed = movingAverage(train.map((r) => r.bitsPerBase), smoothW);

  // y range: the smoothed curve and validation, plus the raw loss trimmed of its first 2% (the
  // initial ~4 bits would otherwise flatten everything that matters)
  const skip = Math.floor(train.length * 0.02);
  const ys = [...smoothed, ...valid.map((r) => r.bitsPerBase), ...train.slice(skip).map((r) => r.bitsPerBase)];
  if (o.reference) ys.push(o.reference.value);
  const sorted = [...ys].sort((a, b) => a - b);
  const q = (f: number) => sorted[Math.min(sorted.length - 1, Math.floor(f * (sorted.length - 1)))] ?? 0;
  const yr = niceTicks(ys.length ? q(0) : 0, ys.length ? q(0.995) : 4, 6);
  const xr = niceTicks(0, maxStep, 8);

  const left = 90;
  const right = 24;
  const top = o.subtitle ? 74 : 56;
  const main: Panel = { x: left, y: top, w: width - left - right, h: (height - top) * 0.62 };
  const lrPanel: Panel = { x: left, y: main.y + main.h + 36, w: main.w, h: height - (main.y + main.h + 36) - 62 };
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="28" text-anchor="middle" font-size="17" font-weight="bold">${esc(o.title ?? 'Training curves')}</text>`);
  if (o.subtitle) out.push(`<text x="${width / 2}" y="50" text-anchor="middle" font-size="12" fill="#555">${esc(o.subtitle)}</text>`);
  out.push(`<defs><clipPath id="main"><rect x="${main.x}" y="${main.y}" width="${main.w}" height="${main.h}"/></clipPath></defs>`);
  axes(main, xr, yr, undefined, 'bits per base', out);
  out.push('<g clip-path="url(#main)">');
  if (o.reference) draw(main, xr, yr, { points: [[xr.min, o.reference.value], [xr.max, o.reference.value]], color: COLORS.reference, width: 1.5, dash: '6 4' }, out);
  draw(main, xr, yr, { points: train.map((r) => [r.step, r.bitsPerBase]), color: COLORS.train, width: 1, opacity: 0.9 }, out);
  draw(main, xr, yr, { points: train.map((r, i) => [r.step, smoothed[i]]), color: COLORS.smooth, width: 2.2 }, out);
  draw(main, xr, yr, { points: valid.map((r) => [r.step, r.bitsPerBase]), color: COLORS.valid, width: 2, markers: true }, out);
  out.push('</g>');

  // legend, top right inside the main panel
  const entries: Array<[string, string, boolean, string?]> = [
    ['train loss (per step)', COLORS.train, false],
    [`train loss (moving average of ${smoothW})`, COLORS.smooth, false],
    ['validation (held-out bases)', COLORS.valid, true],
  ];
  if (o.reference) entries.push([o.reference.label, COLORS.reference, false, '6 4']);
  const lw = 290;
  const lx = main.x + main.w - lw - 10;
  const ly = main.y + 10;
  out.push(`<rect x="${lx}" y="${ly}" width="${lw}" height="${entries.length * 20 + 10}" fill="white" fill-opacity="0.9" stroke="#bbb"/>`);
  entries.forEach(([label, color, marker, dash], i) => {
    const y = ly + 18 + i * 20;
    out.push(`<line x1="${lx + 10}" y1="${y - 4}" x2="${lx + 40}" y2="${y - 4}" stroke="${color}" stroke-width="${i === 0 ? 2 : 2.5}"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    if (marker) out.push(`<circle cx="${lx + 25}" cy="${y - 4}" r="3.5" fill="${color}"/>`);
    out.push(`<text x="${lx + 48}" y="${y}" font-size="12">${esc(label)}</text>`);
  });

  // learning-rate panel
  const lrs = train.map((r) => r.lr);
  const lrr = niceTicks(0, lrs.length ? Math.max(...lrs) : 1, 3);
  axes(lrPanel, xr, lrr, 'optimizer step', 'learning rate', out);
  draw(lrPanel, xr, lrr, { points: train.map((r) => [r.step, r.lr]), color: COLORS.lr, width: 2 }, out);
  if (train.length === 0 && valid.length === 0) out.push(`<text x="${main.x + main.w / 2}" y="${main.y + main.h / 2}" text-anchor="middle" font-size="14" fill="#777">no metrics yet</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
