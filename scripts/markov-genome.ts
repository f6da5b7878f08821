// A synthetic genome from a known order-3 Markov chain, and its exact entropy rate: the floor on
// bits per base that any model can reach on it, for checking that training learns honestly.
//
//   node dist/scripts/markov-genome.js [--out fixtures/markov/markov3] [--seed 3] [--sequences 2] [--length 40000] [--alpha 0.4]
//
// Writes OUT.fa (60 bases per line), OUT.fa.fai and OUT.json: the transition table P(next | previous 3
// bases) (64 contexts × ACGT, each row drawn from a symmetric Dirichlet(alpha): skewed rows, real
// structure), the stationary distribution π of the 3-base context chain (power iteration), the entropy
// rate H = Σ_ctx π(ctx) · H(P(· | ctx)) in bits, and the conditional entropies H_k given only the last
// k bases (k = 0..3, H_3 = H) — what a model that sees only k bases of context could reach.
// Each sequence starts from a context drawn from π, so every base is distributed as the stationary chain.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Rng } from '../src/data/rng.js';

const BASES = 'ACGT';

interface Args {
  out: string;
  seed: number;
  sequences: number;
  length: number;
  alpha: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { out: 'fixtures/markov/markov3', seed: 3, sequences: 2, length: 40_000, alpha: 0.4 };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`${k}: missing value`);
    if (k === '--out') a.out = v;
    else if (k === '--seed') a.seed = Number(v);
    else if (k === '--sequences') a.sequences = Number(v);
    else if (k === '--length') a.length = Number(v);
    else if (k === '--alpha') a.alpha = Number(v);
    else throw new Error(`unknown option ${k}`);
  }
  return a;
}

/** Gamma(shape, 1) by Marsaglia & Tsang (2000); shape < 1 through Gamma(shape + 1)·U^(1/shape). */
function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * Math.pow(1 - rng.nextFloat(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      const u1 = 1 - rng.nextFloat();
      const u2 = rng.nextFloat();
      x = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng.nextFloat();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** 64 rows (context index = 16·b1 + 4·b2 + b3, b3 the latest base) of P(next | context). */
export function transitionTable(seed: number, alpha: number): number[][] {
  const rng = Rng.derive(seed, 0x3a4c);
  return Array.from({ length: 64 }, () => {
    const g = [0, 1, 2, 3].map(() => gamma(rng, alpha) + 1e-6); // floor: no base is impossible
    const s = g.reduce((x, y) => x + y, 0);
    return g.map((x) => x / s);
  });
}

/** Stationary distribution of the context chain ctx → (ctx·4 + next) mod 64, by power iteration. */
export function stationary(P: number[][]): number[] {
  let pi = new Array(64).fill(1 / 64);
  for (let it = 0; it < 10_000; it++) {
    const next = new Array(64).fill(0);
    for (let c = 0; c < 64; c++) for (let b = 0; b < 4; b++) next[(c * 4 + b) % 64] += pi[c] * P[c][b];
    const delta = next.reduce((m, v, i) => Math.max(m, Math.abs(v - pi[i])), 0);
    pi = next;
    if (delta < 1e-15) break;
  }
  return pi;
}

const h = (p: number[]) => -p.reduce((s, x) => s + (x > 0 ? x * Math.log2(x) : 0), 0);

/** H_k: entropy of the next base given the last k bases, under the stationary chain (k = 0..3). */
export function conditionalEntropies(P: number[][], pi: number[]): number[] {
  const out: number[] = [];
  for (let k = 0; k <= 3; k++) {
    // joint of (last k bases, next base): sum the 4-mer probabilities π(ctx)·P(next|ctx) over the older bases
    const joint = new Map<number, number[]>();
    for (let c = 0; c < 64; c++) {
      const key = c % 4 ** k;
      const row = joint.get(key) ?? [0, 0, 0, 0];
      for (let b = 0; b < 4; b++) row[b] += pi[c] * P[c][b];
      joint.set(key, row);
    }
    let H = 0;
    for (const row of joint.values()) {
      const m = row.reduce((x, y) => x + y, 0);
      if (m > 0) H += m * h(row.map((x) => x / m));
    }
    out.push(H);
  }
  return out;
}

function pick(rng: Rng, p: readonly number[]): number {
  const u = rng.nextFloat();
  let acc = 0;
  for (let i = 0; i < p.length - 1; i++) {
    acc += p[i];
    if (u < acc) return i;
  }
  return p.length - 1;
}

function main(): void {
  const a = parseArgs(process.argv.slice(2));
  const P = transitionTable(a.seed, a.alpha);
  const pi = stationary(P);
  const H = conditionalEntropies(P, pi);
  const rng = Rng.derive(a.seed, 0x5e9);
  const lineBases = 60;
  let fasta = '';
  let fai = '';
  for (let s = 0; s < a.sequences; s++) {
    const name = `markov3_${s + 1}`;
    let ctx = pick(rng, pi);
    const bases: string[] = [BASES[Math.floor(ctx / 16)], BASES[Math.floor(ctx / 4) % 4], BASES[ctx % 4]];
    while (bases.length < a.length) {
      const b = pick(rng, P[ctx]);
      bases.push(BASES[b]);
      ctx = (ctx * 4 + b) % 64;
    }
    const header = `>${name} order-3 Markov chain, seed ${a.seed}, alpha ${a.alpha}\n`;
    const offset = Buffer.byteLength(fasta) + Buffer.byteLength(header);
    fai += `${name}\t${a.length}\t${offset}\t${lineBases}\t${lineBases + 1}\n`;
    fasta += header;
    const seq = bases.join('');
    for (let i = 0; i < seq.length; i += lineBases) fasta += `${seq.slice(i, i + lineBases)}\n`;
  }
  mkdirSync(dirname(a.out), { recursive: true });
  writeFileSync(`${a.out}.fa`, fasta);
  writeFileSync(`${a.out}.fa.fai`, fai);
  const info = {
    generator: 'scripts/markov-genome.ts',
    seed: a.seed, alpha: a.alpha, order: 3, sequences: a.sequences, length: a.length,
    entropyRateBits: H[3],
    conditionalEntropyBits: { k0: H[0], k1: H[1], k2: H[2], k3: H[3] },
    contexts: 'index 16·b1 + 4·b2 + b3 over ACGT, b3 the latest base',
    transitions: P,
    stationary: pi,
  };
  writeFileSync(`${a.out}.json`, `${JSON.stringify(info, null, 2)}\n`);
  process.stderr.write(`markov-genome: ${a.sequences} × ${a.length.toLocaleString('en-US')} bases → ${a.out}.fa; entropy rate ${H[3].toFixed(4)} bits/base (given 0/1/2 bases: ${H.slice(0, 3).map((x) => x.toFixed(4)).join(' / ')})\n`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) main();
