// Tokenization throughput: our byte-table encoder, in memory and end to end through the indexed
// genome reader, against `samtools faidx` printing the same bases (a reference point for raw I/O).
//
//   npx tsc -p tsconfig.json && node dist/bench/tokenize.js [fasta] [--reps N]
//
// Default input: E. coli MG1655-K12 (4.6 Mb), decompressed once from ../shared/data into /tmp and
// indexed with samtools. Prints a markdown table (best of N runs, warm page cache).
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import { openGenome } from '../src/genome/open.js';
import { encode, encodeBytes } from '../src/tokenizer/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const repsAt = args.indexOf('--reps');
const reps = repsAt >= 0 ? Number(args.splice(repsAt, 2)[1]) : 5;

async function defaultInput(): Promise<string> {
  const dir = '/tmp/mamba-dna-bench';
  const fa = join(dir, 'MG1655-K12.fa');
  if (!existsSync(fa)) {
    mkdirSync(dir, { recursive: true });
    await pipeline(createReadStream(resolve(root, '../shared/data/bacteria/E.Coli/MG1655-K12.fasta.gz')), createGunzip(), createWriteStream(fa));
  }
  return fa;
}

const fasta = args[0] ?? (await defaultInput());
if (!existsSync(`${fasta}.fai`)) execFileSync('samtools', ['faidx', fasta]);

/** Best (minimum) wall time in seconds of `reps` runs. */
async function best(fn: () => unknown): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return min;
}

const genome = await openGenome(fasta);
const seqs = genome.sequences;
const totalBases = seqs.reduce((s, q) => s + q.length, 0);
const fetchAll = async () => Promise.all(seqs.map((s) => genome.fetch(s.name, 0, s.length)));
const strings = await fetchAll();
const bytes = strings.map((s) => Buffer.from(s, 'latin1'));
const out = new Uint8Array(Math.max(...seqs.map((s) => s.length)));

const rows: [string, number][] = [];
rows.push(['encode(string), in memory', await best(() => strings.forEach((s) => encode(s, out)))]);
rows.push(['encodeBytes(Buffer), in memory', await best(() => bytes.forEach((b) => encodeBytes(b, out)))]);
rows.push(['genome.fetch (whole sequences), no tokenizing', await best(fetchAll)]);
rows.push(['genome.fetch + encode', await best(async () => {
  for (const s of seqs) encode(await genome.fetch(s.name, 0, s.length), out);
})]);
await genome.close();
rows.push(['samtools faidx (whole sequences) > /dev/null, incl. process start', await best(() => {
  const r = spawnSync('samtools', ['faidx', fasta, ...seqs.map((s) => s.name)], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`samtools faidx failed (${r.status})`);
})]);
const cli = join(root, 'bin/mamba-dna.js');
rows.push(['(for scale: mamba-dna --version, node start + module load)', await best(() => spawnSync(process.execPath, [cli, '--version'], { stdio: 'ignore' }))]);
rows.push(['mamba-dna tokenize (ids text) > /dev/null, incl. node start', await best(() => {
  const r = spawnSync(process.execPath, [cli, 'tokenize', fasta], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`mamba-dna tokenize failed (${r.status})`);
})]);

console.log(`input: ${fasta}, ${seqs.length} sequence(s), ${totalBases.toLocaleString('en-US')} bases; best of ${reps}; node ${process.version}`);
console.log('| step | time (ms) | throughput (MB/s of bases) |');
console.log('|---|---:|---:|');
for (const [what, s] of rows) console.log(`| ${what} | ${(s * 1e3).toFixed(1)} | ${what.startsWith('(') ? '–' : (totalBases / s / 1e6).toFixed(0)} |`);
