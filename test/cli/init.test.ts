import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { makeConfig, parameterCount } from '../../src/model/config.js';

const bin = fileURLToPath(new URL('../../../bin/mamba-dna.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'mamba-dna-init-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('init writes a loadable default model and a one-line summary on stderr', async (t) => {
  const out = join(root, 'default');
  const r = await run(['init', '--out', out]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '');
  t.is(r.stderr.trim().split('\n').length, 1);
  t.regex(r.stderr, /1,401,472 parameters \(d_model 128, n_layer 12, d_state 16, expand 2, d_conv 4, dt_rank 8, vocab 12→16, seed 0\)/);
  t.deepEqual(readdirSync(out).sort(), ['config.json', 'model.safetensors']);
  const loaded = await loadCheckpoint(out);
  t.deepEqual(loaded.config, makeConfig());
  t.is(loaded.metadata['mamba_dna.init_seed'], '0');
});

test('init honours the size flags and the seed; the same seed gives the same bytes', async (t) => {
  const args = ['--d-model', '32', '--n-layer', '2', '--d-state', '8', '--expand', '3', '--d-conv', '3', '--seed', '7'];
  const a = join(root, 'a');
  const b = join(root, 'b');
  const [ra, rb] = [await run(['init', '--out', a, ...args]), await run(['init', '--out', b, ...args])];
  t.is(ra.code, 0, ra.stderr);
  t.is(rb.code, 0, rb.stderr);
  const cfg = makeConfig({ dModel: 32, nLayer: 2, dState: 8, expand: 3, dConv: 3 });
  t.regex(ra.stderr, new RegExp(`${parameterCount(cfg).toLocaleString('en-US')} parameters`));
  t.deepEqual((await loadCheckpoint(a)).config, cfg);
  t.deepEqual(readFileSync(join(a, 'model.safetensors')), readFileSync(join(b, 'model.safetensors')));
});

test('init refuses a non-empty directory unless --force', async (t) => {
  const out = join(root, 'busy');
  mkdirSync(out);
  writeFileSync(join(out, 'notes.txt'), 'keep me');
  const r = await run(['init', '--out', out, '--n-layer', '1']);
  t.is(r.code, 3);
  t.is(r.stderr, `mamba-dna: --out ${out}: directory is not empty; choose an empty/new directory or pass --force to overwrite its model files\n`);
  t.deepEqual(readdirSync(out), ['notes.txt']);
  const forced = await run(['init', '--out', out, '--n-layer', '1', '--force']);
  t.is(forced.code, 0, forced.stderr);
  t.deepEqual(readdirSync(out).sort(), ['config.json', 'model.safetensors', 'notes.txt']);
  t.is(readFileSync(join(out, 'notes.txt'), 'utf8'), 'keep me');
  // an empty existing directory is fine without --force
  const empty = join(root, 'empty');
  mkdirSync(empty);
  t.is((await run(['init', '--out', empty, '--n-layer', '1'])).code, 0);
});

test('init into an unwritable place or with a bad flag: one line, exit 3 / 2, no stack trace', async (t) => {
  const file = join(root, 'a-file');
  writeFileSync(file, 'x');
  const under = await run(['init', '--out', join(file, 'ck')]);
  t.is(under.code, 3);
  t.regex(under.stderr, /^mamba-dna: .*a-file\/ck.*not a directory\n$/);
  const onFile = await run(['init', '--out', file]);
  t.is(onFile.code, 3);
  t.regex(onFile.stderr, /exists and is not a directory/);
  if (process.getuid?.() !== 0) {
    const ro = join(root, 'ro');
    mkdirSync(ro, { mode: 0o500 });
    const r = await run(['init', '--out', join(ro, 'ck')]);
    t.is(r.code, 3);
    t.regex(r.stderr, /permission denied/);
  } else {
    t.log('running as root: a read-only directory does not stop root, that case is skipped');
  }
  const bad = await run(['init', '--out', join(root, 'x'), '--d-model', '0']);
  t.is(bad.code, 2);
  t.is(bad.stderr, 'mamba-dna: --d-model must be a positive integer, got "0"\n');
  const missing = await run(['init']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--out <dir>/);
});
