// The model commands run as a user would: init a small model, then eval and embed on the bundled
// lambda genome; every error class gives one stderr line and its exit code.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, runCliClosingStdout } from '../helpers/cli.js';

const LAMBDA = 'fixtures/lambda_virus.fa';
const NAME = 'gi|9626243|ref|NC_001416.1|';
const root = mkdtempSync(join(tmpdir(), 'mamba-dna-model-cli-'));
const model = join(root, 'model');
const D = 16;
test.after.always(() => rmSync(root, { recursive: true, force: true }));

test.before(async () => {
  const r = await runCli(['init', '--out', model, '--d-model', String(D), '--n-layer', '2', '--seed', '3']);
  if (r.code !== 0) throw new Error(r.stderr);
});

function oneLineError(t: { is: (a: unknown, b: unknown, m?: string) => void; notRegex: (s: string, r: RegExp) => void }, stderr: string): void {
  const lines = stderr.trim().split('\n');
  t.is(lines.length, 1, stderr);
  t.notRegex(stderr, /\n\s+at /);
}

test('eval prints a table with bits per base, and JSON with --json', async (t) => {
  const r = await runCli(['eval', '--model', model, '--fasta', LAMBDA, '-r', `${NAME}:1-2000`, '-r', `${NAME}:40001-41000`, '--device', 'cpu']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.is(lines[0], 'chrom\tstart\tend\tpredictions\tbits_per_base\taccuracy');
  t.regex(lines[1], new RegExp(`^${NAME.replace(/\|/g, '\\|')}\t0\t2000\t1999\t\\d\\.\\d{4}\t0\\.\\d{4}$`));
  t.regex(lines[3], /^total\t\t\t2998\t/);
  const j = await runCli(['eval', '--model', model, '--fasta', LAMBDA, '-r', `${NAME}:1-2000`, '--device', 'cpu', '--json']);
  t.is(j.code, 0, j.stderr);
  const s = JSON.parse(j.stdout);
  t.is(s.predictions, 1999);
  // a random model is near uniform over the 16 padded tokens: 4 bits
  t.true(s.bitsPerBase > 3 && s.bitsPerBase < 5, String(s.bitsPerBase));
  t.is(s.regions[0].bitsPerBase.toFixed(4), lines[1].split('\t')[4]);
  t.true(Math.abs(s.perplexity - Math.exp(s.lossNats)) < 1e-9);
});

test('eval gives the same numbers whatever the chunk (the state carries across chunks)', async (t) => {
  const args = ['eval', '--model', model, '--fasta', LAMBDA, '-r', `${NAME}:101-1100`, '--device', 'cpu', '--json'];
  const a = JSON.parse((await runCli([...args, '--chunk', '4096'])).stdout);
  const b = JSON.parse((await runCli([...args, '--chunk', '333'])).stdout);
  t.log(`bits/base ${a.bitsPerBase} vs ${b.bitsPerBase}`);
  t.true(Math.abs(a.bitsPerBase - b.bitsPerBase) < 1e-6);
  t.is(a.predictions, b.predictions);
});

test('embed: tsv rows start like BED, pooled one row per region', async (t) => {
  const r = await runCli(['embed', '--model', model, '--fasta', LAMBDA, '-r', `${NAME}:1-100`, '-r', `${NAME}:201-260`, '--device', 'cpu']);
  t.is(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => l.split('\t'));
  t.is(rows.length, 2);
  t.deepEqual(rows.map((c) => c.slice(0, 3)), [[NAME, '0', '100'], [NAME, '200', '260']]);
  for (const c of rows) {
    t.is(c.length, 3 + D);
    t.true(c.slice(3).every((v) => Number.isFinite(Number(v))));
  }
});

test('embed --pool none: row i is the state after base i; the mean of the rows is --pool mean; npy loads in numpy', async (t) => {
  const region = `${NAME}:1001-1037`;
  const none = await runCli(['embed', '--model', model, '--fasta', LAMBDA, '-r', region, '--pool', 'none', '--format', 'jsonl', '--device', 'cpu']);
  t.is(none.code, 0, none.stderr);
  const rows = none.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.is(rows.length, 37);
  t.deepEqual([rows[0].start, rows[0].end, rows[36].start], [1000, 1001, 1036]);
  const mean = await runCli(['embed', '--model', model, '--fasta', LAMBDA, '-r', region, '--pool', 'mean', '--format', 'jsonl', '--device', 'cpu']);
  const m = JSON.parse(mean.stdout).embedding as number[];
  let err = 0;
  for (let k = 0; k < D; k++) err = Math.max(err, Math.abs(rows.reduce((s, r) => s + r.embedding[k], 0) / rows.length - m[k]));
  t.log(`mean of per-base rows vs --pool mean: max diff ${err.toExponential(2)}`);
  t.true(err < 1e-5);
  const last = await runCli(['embed', '--model', model, '--fasta', LAMBDA, '-r', region, '--pool', 'last', '--format', 'jsonl', '--device', 'cpu']);
  t.deepEqual(JSON.parse(last.stdout).embedding, rows[36].embedding);

  const npyPath = join(root, 'x.npy');
  const npy = await runCli(['embed', '--model', model, '--fasta', LAMBDA, '-r', region, '--pool', 'none', '--format', 'npy', '--device', 'cpu']);
  t.is(npy.code, 0, npy.stderr);
  writeFileSync(npyPath, npy.stdoutBytes);
  // Debian's python3-numpy lives beside /usr/bin/python3; a pyenv python3 on PATH may have its own
  const script = `import numpy as np, json; a = np.load(${JSON.stringify(npyPath)}); print(json.dumps([list(a.shape), str(a.dtype), float(a[5, 3])]))`;
  let py = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' });
  if (py.status !== 0) py = spawnSync('python3', ['-c', script], { encoding: 'utf8' });
  if (py.status !== 0 && /No module named 'numpy'|ENOENT/.test(`${py.stderr}${py.error?.message ?? ''}`)) {
    t.log('numpy not installed: .npy checked by header only (scripts/install-system-deps.sh installs python3-numpy)');
    t.is(npy.stdoutBytes.subarray(0, 6).toString('latin1'), '\x93NUMPY');
    return;
  }
  t.is(py.status, 0, py.stderr);
  const [shape, dtype, v] = JSON.parse(py.stdout);
  t.deepEqual(shape, [37, D]);
  t.is(dtype, 'float32');
  t.true(Math.abs(v - rows[5].embedding[3]) < 1e-5 * Math.max(1, Math.abs(v)));
});

test('embed --rc-average per base equals the mean of the plus-strand row and the matching minus-strand row', async (t) => {
  const region = `${NAME}:5001-5040`;
  const args = ['embed', '--model', model, '--fasta', LAMBDA, '-r', region, '--format', 'jsonl', '--device', 'cpu'];
  const both = (await runCli([...args, '--pool', 'none', '--rc-average', '--chunk', '16'])).stdout.trim().split('\n').map((l) => JSON.parse(l).embedding as number[]);
  const plus = (await runCli([...args, '--pool', 'none'])).stdout.trim().split('\n').map((l) => JSON.parse(l).embedding as number[]);
  t.is(both.length, 40);
  // pooled mean with --rc-average = mean over bases of the per-base averages
  const pooled = JSON.parse((await runCli([...args, '--pool', 'mean', '--rc-average'])).stdout).embedding as number[];
  let err = 0;
  for (let k = 0; k < D; k++) err = Math.max(err, Math.abs(both.reduce((s, r) => s + r[k], 0) / 40 - pooled[k]));
  t.true(err < 1e-5, `pooled vs per-base mean ${err}`);
  t.notDeepEqual(both[0], plus[0]);
});

test('embed --window/--stride tiles the regions', async (t) => {
  const r = await runCli(['embed', '--model', model, '--fasta', LAMBDA, '-r', `${NAME}:1-1000`, '--window', '300', '--stride', '250', '--device', 'cpu']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n').map((l) => l.split('\t').slice(1, 3).join('-')), ['0-300', '250-550', '500-800']);
});

test('embed | head: a closed stdout ends quietly with exit 0', async (t) => {
  const r = await runCliClosingStdout(['embed', '--model', model, '--fasta', LAMBDA, '-r', `${NAME}:1-20000`, '--pool', 'none', '--device', 'cpu'], 4096);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '');
});

const bad: [string, string[], number, RegExp][] = [
  ['missing model directory', ['eval', '--model', join(root, 'nope'), '--fasta', LAMBDA, '--device', 'cpu'], 3, /nope/],
  ['model directory without weights', ['eval', '--model', root, '--fasta', LAMBDA, '--device', 'cpu'], 3, /config\.json|model\.safetensors/],
  ['unknown device', ['eval', '--model', model, '--fasta', LAMBDA, '--device', 'tpu'], 2, /tpu/],
  ['unknown pool', ['embed', '--model', model, '--fasta', LAMBDA, '--pool', 'max'], 2, /max/],
  ['--stride without --window', ['embed', '--model', model, '--fasta', LAMBDA, '--stride', '5', '--device', 'cpu'], 2, /--stride needs --window/],
  ['non-numeric --chunk', ['eval', '--model', model, '--fasta', LAMBDA, '--chunk', 'ten'], 2, /--chunk/],
  ['missing --fasta', ['eval', '--model', model], 2, /--fasta/],
  ['region out of bounds', ['eval', '--model', model, '--fasta', LAMBDA, '-r', `${NAME}:48000-49000`, '--device', 'cpu'], 3, /48,?502|out of|beyond|past/i],
  ['unknown sequence', ['embed', '--model', model, '--fasta', LAMBDA, '-r', 'chrZ:1-10', '--device', 'cpu'], 3, /chrZ/],
  ['window longer than the region', ['embed', '--model', model, '--fasta', LAMBDA, '-r', `${NAME}:1-100`, '--window', '500', '--device', 'cpu'], 2, /--window 500/],
];
for (const [what, args, code, msg] of bad) {
  test(`error: ${what} → exit ${code}, one line`, async (t) => {
    const r = await runCli(args);
    t.is(r.code, code, r.stderr);
    t.is(r.stdout, '');
    t.regex(r.stderr, msg);
    oneLineError(t, r.stderr.replace(/^\(run with --help for usage\)\n?/m, ''));
  });
}

test('devices lists cpu as available', async (t) => {
  const r = await runCli(['devices', '--json']);
  t.is(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout) as { name: string; ok: boolean; reason?: string }[];
  t.deepEqual(list.map((d) => d.name), ['webgpu', 'wasm', 'cpu']);
  t.true(list.find((d) => d.name === 'cpu')!.ok);
  for (const d of list) t.log(`${d.name}: ${d.ok ? 'ok' : `missing — ${d.reason}`}`);
});
