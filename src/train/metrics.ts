// RUN/metrics.jsonl: one JSON object per line, appended as training goes.
//   {"type":"train","step":…,"loss":…,"bitsPerBase":…,"accuracy":…,"lr":…,"gradNorm":…,"seqLen":…,
//    "batch":…,"tokens":…,"tokensPerSec":…,"elapsedSec":…}              one per optimizer step
//   {"type":"valid","step":…,"loss":…,"bitsPerBase":…,"accuracy":…,"predictions":…,"elapsedSec":…}
// loss is the mean next-base cross-entropy in nats; bitsPerBase = loss / ln 2. On --resume the lines
// of steps after the checkpoint are dropped (they are recomputed identically).
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import { InputError } from '../errors.js';

export const METRICS_FILE = 'metrics.jsonl';

export interface TrainRecord {
  type: 'train';
  step: number;
  loss: number;
  bitsPerBase: number;
  accuracy: number;
  lr: number;
  gradNorm: number;
  seqLen: number;
  /** windows in the step (all micro-batches) */
  batch: number;
  /** tokens seen so far, all steps */
  tokens: number;
  tokensPerSec: number;
  elapsedSec: number;
}

export interface ValidRecord {
  type: 'valid';
  step: number;
  loss: number;
  bitsPerBase: number;
  accuracy: number;
  predictions: number;
  elapsedSec: number;
}

export type MetricsRecord = TrainRecord | ValidRecord;

export class MetricsWriter {
  private constructor(private readonly fh: import('node:fs/promises').FileHandle, readonly path: string) {}

  static async open(path: string): Promise<MetricsWriter> {
    try {
      return new MetricsWriter(await open(path, 'a'), path);
    } catch (err) {
      throw new InputError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }

  async write(r: MetricsRecord): Promise<void> {
    await this.fh.write(`${JSON.stringify(r)}\n`);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Parses metrics.jsonl; a torn last line (a killed writer) is ignored, a bad line elsewhere is an InputError. */
export function parseMetrics(text: string, path: string): MetricsRecord[] {
  const lines = text.split('\n');
  const out: MetricsRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    let r: MetricsRecord;
    try {
      r = JSON.parse(line);
    } catch {
      if (i >= lines.length - 2 && !text.endsWith('\n')) break; // torn final line
      throw new InputError(`${path}:${i + 1}: not a JSON line`);
    }
    if (!r || (r.type !== 'train' && r.type !== 'valid') || !Number.isSafeInteger(r.step)) throw new InputError(`${path}:${i + 1}: not a metrics record (needs "type": "train"|"valid" and "step")`);
    out.push(r);
  }
  return out;
}

export async function readMetrics(path: string): Promise<MetricsRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`${path}: ${code === 'ENOENT' ? "missing (is this a run directory written by 'mamba-dna pretrain'?)" : code ?? (err as Error).message}`);
  }
  return parseMetrics(text, path);
}

/** Rewrites metrics.jsonl keeping records up to `step` (train) and validations up to `step`. */
export async function truncateMetrics(path: string, step: number): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return;
  }
  const kept = parseMetrics(text, path).filter((r) => r.step <= step);
  const tmp = `${path}.tmp`;
  await writeFile(tmp, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
  await rename(tmp, path);
}
