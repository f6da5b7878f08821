// A trained species classifier on disk, and the scorers that apply it to windows or regions.
//   DIR/classifier.json   what it is: {format: 'mamba-dna/classifier/v1', kind: 'mamba' | 'kmer',
//                         species (label order), seqLen, then per kind: pool, head, frozenBackbone |
//                         k, alpha, canonical, counts; split; the training settings}
//   DIR/config.json + DIR/model.safetensors   kind 'mamba': the (fine-tuned) backbone, a standard
//                         checkpoint, so embed / eval / pretrain --init work on DIR unchanged
//   DIR/head.safetensors  kind 'mamba': classifier.weight (C, D), classifier.bias (C), F32
//   DIR/kmer-counts.npy   kind 'kmer': canonical k-mer counts, float64 (C, 4^k) (src/classify/kmer.ts)
//   DIR/split.tsv         the train/test regions of every genome it was trained on (sources.ts)
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../checkpoint/safetensors.js';
import { regionChunks } from '../data/region-chunks.js';
import { InputError } from '../errors.js';
import type { Genome, Region } from '../genome/types.js';
import type { MambaModel } from '../model/mamba.js';
import { headLogits, Pooler, POOLS, softmax, type ClassifierHead, type Pool } from './head.js';
import { KmerModel, MAX_K, readKmerCounts } from './kmer.js';

export const CLASSIFIER_FILE = 'classifier.json';
export const HEAD_FILE = 'head.safetensors';
export const KMER_FILE = 'kmer-counts.npy';
export const CLASSIFIER_FORMAT = 'mamba-dna/classifier/v1';

export interface ClassifierJson {
  format: typeof CLASSIFIER_FORMAT;
  kind: 'mamba' | 'kmer';
  species: string[];
  /** window length it was trained at */
  seqLen: number;
  pool?: Pool;
  head?: string;
  frozenBackbone?: boolean;
  k?: number;
  alpha?: number;
  canonical?: boolean;
  counts?: string;
  /** windows (or bases, for whole sequences) the k-mer counts came from */
  kmerSource?: 'windows' | 'whole';
  split: string;
  /** the settings of the run that wrote it (informative) */
  training: Record<string, unknown>;
}

export async function readClassifierJson(dir: string): Promise<ClassifierJson> {
  const path = join(dir, CLASSIFIER_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new InputError(`${path}: missing; --model must be a directory written by 'mamba-dna classify train'`);
  }
  let j: ClassifierJson;
  try {
    j = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  const bad = (why: string) => new InputError(`${path}: ${why}; write it again with 'mamba-dna classify train'`);
  if (!j || j.format !== CLASSIFIER_FORMAT) throw bad(`not a ${CLASSIFIER_FORMAT} file`);
  if (!Array.isArray(j.species) || j.species.length < 2 || j.species.some((s) => typeof s !== 'string')) throw bad('"species" must list at least two names');
  if (!Number.isSafeInteger(j.seqLen) || j.seqLen < 1) throw bad('"seqLen" must be a positive integer');
  if (j.kind === 'mamba') {
    if (!POOLS.includes(j.pool!)) throw bad(`"pool" must be one of ${POOLS.join(', ')}`);
  } else if (j.kind === 'kmer') {
    if (!Number.isInteger(j.k) || j.k! < 1 || j.k! > MAX_K || !(j.alpha! > 0)) throw bad(`"k" must be 1..${MAX_K} and "alpha" positive`);
  } else throw bad('"kind" must be mamba or kmer');
  return j;
}

export async function writeHead(path: string, head: ClassifierHead): Promise<void> {
  await writeSafetensors(path, new Map([
    ['classifier.weight', { shape: [head.C, head.D], data: head.weight }],
    ['classifier.bias', { shape: [head.C], data: head.bias }],
  ]));
}

export async function readHead(path: string, C: number, D: number): Promise<ClassifierHead> {
  const f = await readSafetensors(path);
  const w = f.tensors.get('classifier.weight');
  const b = f.tensors.get('classifier.bias');
  if (!w || !b || w.data.length !== C * D || b.data.length !== C) {
    throw new InputError(`${path}: needs classifier.weight (${C}, ${D}) and classifier.bias (${C}) for ${C} species and d_model ${D}`);
  }
  return { C, D, weight: w.data, bias: b.data };
}

/** Species probabilities of a window or a region. */
export interface Scorer {
  readonly species: readonly string[];
  /** probabilities (C) of one window of token ids */
  ofIds(ids: Uint8Array): Promise<Float64Array>;
  /** probabilities (C) of a genome region of any length, streamed */
  ofRegion(genome: Genome, region: Region): Promise<Float64Array>;
}

/** Pooled final-norm hidden state of a token stream through the model (chunks carry the state). */
export async function pooledFeature(model: MambaModel, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, pool: Pool): Promise<Float64Array> {
  const pooler = new Pooler(model.dims.D, pool);
  let state = await model.initialState();
  try {
    for await (const ids of chunks) {
      const out = await model.forward(ids, state);
      state = out.state;
      const rows = await model.backend.read(out.hidden); // (n, D)
      model.backend.free(out.hidden);
      pooler.add(rows, ids.length);
    }
  } finally {
    model.freeState(state);
  }
  return pooler.value();
}

function* slices(ids: Uint8Array, chunk: number): Iterable<Uint8Array> {
  for (let i = 0; i < ids.length; i += chunk) yield ids.subarray(i, Math.min(ids.length, i + chunk));
}

async function* regionIds(genome: Genome, region: Region, chunk: number): AsyncIterable<Uint8Array> {
  for await (const c of regionChunks(genome, region, chunk)) yield c.ids;
}

export function mambaScorer(model: MambaModel, head: ClassifierHead, pool: Pool, species: readonly string[], chunk: number): Scorer {
  return {
    species,
    ofIds: async (ids) => softmax(headLogits(head, await pooledFeature(model, slices(ids, chunk), pool))),
    ofRegion: async (genome, region) => softmax(headLogits(head, await pooledFeature(model, regionIds(genome, region, chunk), pool))),
  };
}

export function kmerScorer(m: KmerModel): Scorer {
  return {
    species: m.species,
    ofIds: async (ids) => m.probabilities(ids),
    ofRegion: async (genome, region) => {
      // k-mers across chunk boundaries: each chunk is scored with the previous chunk's last k−1 ids in front
      const C = m.species.length;
      const s = new Float64Array(C);
      let tail = new Uint8Array(0);
      for await (const { ids } of regionChunks(genome, region, 1 << 20)) {
        const joined = new Uint8Array(tail.length + ids.length);
        joined.set(tail);
        joined.set(ids, tail.length);
        const part = m.scores(joined);
        for (let c = 0; c < C; c++) s[c] += part[c];
        tail = joined.slice(Math.max(0, joined.length - (m.k - 1)));
      }
      return softmax(s);
    },
  };
}

export async function loadKmerModel(dir: string, j: ClassifierJson): Promise<KmerModel> {
  const counts = await readKmerCounts(join(dir, j.counts ?? KMER_FILE), j.species.length, j.k!);
  return new KmerModel(j.k!, j.alpha!, j.species, counts);
}
