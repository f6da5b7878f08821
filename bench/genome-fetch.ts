// Random 1 kb region fetches per second: openGenome (@gmod/indexedfasta + our checks) against
// `samtools faidx`, batched (all regions in one call, -r file) and one call per region (process start
// included), on lambda (plain), a decompressed bacterial genome and its BGZF copy (our writer).
// Run: npx tsc -p tsconfig.json && node dist/bench/genome-fetch.js [--regions N] [--calls N]
// Prints a markdown table for docs/benchmarks.md. Same seeded regions for every tool.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { indexFasta } from '../src/genome/index-fasta.js';
import { openGenome } from '../src/genome/open.js';
import type { Region } from '../src/genome/types.js';
import { mulberry32 } from '../src/data/rng.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (flag: string, dflt: number) => {
  const i = process.argv.indexOf(flag);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N_REGIONS = arg('--regions', 2000);
const N_CALLS = arg('--calls', 50);
const WIDTH = 1000;

const rng = mulberry32;

async function bench(label: string, fasta: string): Promise<string> {
  const g = await openGenome(fasta);
  const r = rng(42);
  const seqs = g.sequences.filter((s) => s.length >= WIDTH);
  const regions: Region[] = [];
  for (let i = 0; i < N_REGIONS; i++) {
    const s = seqs[Math.floor(r() * seqs.length)]!;
    const start = Math.floor(r() * (s.length - WIDTH + 1));
    regions.push({ name: s.name, start, end: start + WIDTH });
  }
  // warm-up (first fetch of a record runs the index check; the OS cache gets the file)
  for (const x of regions.slice(0, 20)) await g.fetch(x.name, x.start, x.end);
  let t0 = performance.now();
  let bases = 0;
  for (const x of regions) bases += (await g.fetch(x.name, x.start, x.end)).length;
  const oursMs = performance.now() - t0;
  if (bases !== N_REGIONS * WIDTH) throw new Error('short fetch');

  const dir = mkdtempSync(join(tmpdir(), 'bench-regions-'));
  const regFile = join(dir, 'regions.txt');
  writeFileSync(regFile, regions.map((x) => `${x.name}:${x.start + 1}-${x.end}\n`).join(''));
  t0 = performance.now();
  const st = spawnSync('samtools', ['faidx', '-r', regFile, fasta], { maxBuffer: 1 << 30 });
  const batchMs = performance.now() - t0;
  if (st.status !== 0) throw new Error(String(st.stderr));
  t0 = performance.now();
  for (const x of regions.slice(0, N_CALLS)) {
    const one = spawnSync('samtools', ['faidx', fasta, `${x.name}:${x.start + 1}-${x.end}`]);
    if (one.status !== 0) throw new Error(String(one.stderr));
  }
  const perCallMs = performance.now() - t0;
  rmSync(dir, { recursive: true, force: true });
  await g.close();
  const rate = (n: number, ms: number) => Math.round((n / ms) * 1000).toLocaleString('en-US');
  return `| ${label} | ${rate(N_REGIONS, oursMs)} | ${rate(N_REGIONS, batchMs)} | ${rate(N_CALLS, perCallMs)} |`;
}

const dir = mkdtempSync(join(tmpdir(), 'bench-genome-'));
try {
  const ecoli = join(dir, 'MG1655-K12.fa');
  writeFileSync(ecoli, gunzipSync(readFileSync(join(root, '..', 'shared', 'data', 'bacteria', 'E.Coli', 'MG1655-K12.fasta.gz'))));
  await indexFasta(ecoli);
  const bgz = (await indexFasta(ecoli, { bgzip: true })).fasta;
  const lambda = join(dir, 'lambda_virus.fa');
  copyFileSync(join(root, 'fixtures', 'lambda_virus.fa'), lambda);
  await indexFasta(lambda);
  const rows = [
    await bench('lambda, 48.5 kb, plain', lambda),
    await bench('E. coli MG1655, 4.6 Mb, plain', ecoli),
    await bench('E. coli MG1655, 4.6 Mb, BGZF', bgz),
  ];
  process.stdout.write(
    `${N_REGIONS} random ${WIDTH} bp regions (seed 42); fetches per second\n\n` +
      `| genome | openGenome (sequential awaits) | samtools faidx, one call for all (-r) | samtools faidx, one call per region (${N_CALLS} calls) |\n|---|---:|---:|---:|\n` +
      `${rows.join('\n')}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
