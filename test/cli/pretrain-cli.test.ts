// `mamba-dna pretrain` and `mamba-dna plot` end to end on the real binary with a tiny model on the
// lambda genome: exact resume (straight == stopped + resumed, also after Ctrl-C), kill -9 during
// saves, damaged checkpoints, unwritable --out, divergence, the final model in `eval`, the SVG plot.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, runCli } from '../helpers/cli.js';
import { loadTrainingCheckpoint } from '../../src/train/trainer-state.js';
import { parseMetrics } from '../../src/train/metrics.js';

const TINY = ['fixtures/lambda_virus.fa', '--device', 'cpu', '--threads', '1', '--d-model', '16', '--n-layer', '2', '--d-state', '4', '--seq-len', '64', '--batch', '2'];
const tmp = mkdtempSync(join(tmpdir(), 'pretrain-cli-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const dir = () => join(tmp, `run${n++}`);

/** The trajectory: [type, step, loss, gradNorm, lr, bits/base] per record (timings excluded). */
function trajectory(run: string): string[] {
  return parseMetrics(readFileSync(join(run, 'metrics.jsonl'), 'utf8'), run).map((r) => JSON.stringify(r.type === 'train' ? [r.type, r.step, r.loss, r.gradNorm, r.lr] : [r.type, r.step, r.loss]));
}

/** Spawns the binary; resolves once a stderr line matches, giving the child and the text so far. */
function spawnUntil(args: string[], pattern: RegExp): Promise<{ child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> }> {
  return new Promise((resolveStart, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let started = false;
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((res) => child.on('close', (code, signal) => res({ code, signal, stderr })));
    child.stderr!.on('data', (d) => {
      stderr += d;
      if (!started && pattern.test(stderr)) {
        started = true;
        resolveStart({ child, done });
      }
    });
    child.on('error', reject);
    done.then((r) => { if (!started) reject(new Error(`exited ${r.code} before ${pattern}: ${r.stderr}`)); });
  });
}

test('resume is exact: 20 straight steps == 10 steps, stop, --resume to 20 (losses and final weights)', async (t) => {
  const a = dir();
  const b = dir();
  const common = [...TINY, '--eval-every', '5', '--save-every', '5'];
  const ra = await runCli(['pretrain', ...common, '--out', a, '--steps', '20']);
  t.is(ra.code, 0, ra.stderr);
  const rb = await runCli(['pretrain', ...common, '--out', b, '--steps', '10', '--schedule-steps', '20']);
  t.is(rb.code, 0, rb.stderr);
  t.true(existsSync(join(b, 'checkpoints', 'step-10', 'trainer-state.json')));
  const rr = await runCli(['pretrain', '--resume', b, '--steps', '20', '--device', 'cpu', '--threads', '1']);
  t.is(rr.code, 0, rr.stderr);
  t.regex(rr.stderr, /resuming .*step-10 at step 10 of 20/);
  const ta = trajectory(a);
  t.is(ta.filter((l) => l.startsWith('["train"')).length, 20);
  t.deepEqual(trajectory(b), ta);
  t.true(readFileSync(join(a, 'model.safetensors')).equals(readFileSync(join(b, 'model.safetensors'))), 'final weights differ');
  t.true(readFileSync(join(a, 'checkpoints', 'step-20', 'optimizer.safetensors')).equals(readFileSync(join(b, 'checkpoints', 'step-20', 'optimizer.safetensors'))), 'optimizer state differs');
  // the losses fall: bits per base of the last 5 steps below the first 5
  const losses = ta.filter((l) => l.startsWith('["train"')).map((l) => JSON.parse(l)[2] as number);
  t.true(losses.slice(-5).reduce((x, y) => x + y) < losses.slice(0, 5).reduce((x, y) => x + y));
  // the final model is a normal checkpoint: `eval` on the validation split reproduces the last validation record
  const records = parseMetrics(readFileSync(join(a, 'metrics.jsonl'), 'utf8'), a);
  const lastValid = records.filter((r) => r.type === 'valid').at(-1)!;
  const ev = await runCli(['eval', '--model', a, '--fasta', 'fixtures/lambda_virus.fa', '--regions', join(a, 'split.bed'), '--split', 'valid', '--device', 'cpu', '--json']);
  t.is(ev.code, 0, ev.stderr);
  const bpb = JSON.parse(ev.stdout).bitsPerBase;
  t.log(`last validation ${lastValid.bitsPerBase.toFixed(6)} bits/base, eval of the final model ${bpb.toFixed(6)}`);
  t.true(Math.abs(bpb - lastValid.bitsPerBase) < 1e-9);
});

test('Ctrl-C saves a checkpoint and exits 130; resuming it reproduces an uninterrupted run', async (t) => {
  const a = dir();
  const common = [...TINY, '--eval-every', '0', '--save-every', '0', '--schedule-steps', '3000'];
  const { child, done } = await spawnUntil(['pretrain', ...common, '--out', a, '--steps', '3000', '--log-every', '5'], /step 15\/3000/);
  child.kill('SIGINT');
  const r = await done;
  t.is(r.code, 130, r.stderr);
  t.regex(r.stderr, /interrupted after step (\d+); checkpoint .*step-\d+; continue with: mamba-dna pretrain --resume/);
  const k = Number(/interrupted after step (\d+)/.exec(r.stderr)![1]);
  t.true(k >= 15);
  t.deepEqual(readdirSync(join(a, 'checkpoints')), [`step-${k}`]);
  t.false(existsSync(join(a, 'model.safetensors')), 'no final model after an interrupt');
  const resumed = await runCli(['pretrain', '--resume', a, '--steps', String(k + 3), '--device', 'cpu', '--threads', '1']);
  t.is(resumed.code, 0, resumed.stderr);
  const b = dir();
  const straight = await runCli(['pretrain', ...common, '--out', b, '--steps', String(k + 3)]);
  t.is(straight.code, 0, straight.stderr);
  t.deepEqual(trajectory(a), trajectory(b));
  t.true(readFileSync(join(a, 'model.safetensors')).equals(readFileSync(join(b, 'model.safetensors'))));
});

test('kill -9 during checkpoint saves: every checkpoint left behind loads, and the run resumes', async (t) => {
  for (const delay of [7, 23, 61]) {
    const a = dir();
    const { child, done } = await spawnUntil(['pretrain', ...TINY, '--out', a, '--steps', '3000', '--save-every', '1', '--keep-checkpoints', '2', '--eval-every', '0'], /saved .*step-4\n/);
    await new Promise((res) => setTimeout(res, delay));
    child.kill('SIGKILL');
    const r = await done;
    t.is(r.signal, 'SIGKILL');
    const all = readdirSync(join(a, 'checkpoints'));
    const names = all.filter((x) => x.startsWith('step-'));
    t.true(names.length >= 1);
    for (const name of names) {
      const ck = await loadTrainingCheckpoint(join(a, 'checkpoints', name));
      t.is(`step-${ck.state.step}`, name);
    }
    const newest = Math.max(...names.map((s) => Number(s.slice(5))));
    const resumed = await runCli(['pretrain', '--resume', a, '--steps', String(newest + 2), '--device', 'cpu', '--threads', '1']);
    t.is(resumed.code, 0, resumed.stderr);
    t.regex(resumed.stderr, new RegExp(`resuming .*step-${newest} at step ${newest}`));
    t.log(`killed ${delay} ms after step-4 was saved: left ${all.join(', ')}; every step-N loads; resumed from step-${newest}`);
  }
});

test('unwritable --out: exit 3 with one line naming it', async (t) => {
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'x');
  const r = await runCli(['pretrain', ...TINY, '--out', join(file, 'run'), '--steps', '2']);
  t.is(r.code, 3);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.regex(r.stderr, /--out .*a-file\/run: .*not a directory/);
  // a run directory already holding a run
  const a = dir();
  t.is((await runCli(['pretrain', ...TINY, '--out', a, '--steps', '1'])).code, 0);
  const again = await runCli(['pretrain', ...TINY, '--out', a, '--steps', '1']);
  t.is(again.code, 3);
  t.regex(again.stderr, /already holds a run; continue it with --resume/);
});

test('damaged checkpoint to resume from: exit 3 naming the file', async (t) => {
  const a = dir();
  t.is((await runCli(['pretrain', ...TINY, '--out', a, '--steps', '4', '--save-every', '2'])).code, 0);
  const weights = join(a, 'checkpoints', 'step-4', 'model.safetensors');
  truncateSync(weights, 100);
  const r = await runCli(['pretrain', '--resume', a, '--steps', '6', '--device', 'cpu']);
  t.is(r.code, 3);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.true(r.stderr.includes(weights), r.stderr);
  const state = join(a, 'checkpoints', 'step-2', 'trainer-state.json');
  writeFileSync(state, '{"kind": "mamba-dna/trainer-state/v1", "step": ');
  const r2 = await runCli(['pretrain', '--resume', join(a, 'checkpoints', 'step-2'), '--steps', '6', '--device', 'cpu']);
  t.is(r2.code, 3);
  t.true(r2.stderr.includes(state), r2.stderr);
  // no checkpoint at all
  const r3 = await runCli(['pretrain', '--resume', tmp, '--steps', '6']);
  t.is(r3.code, 3);
  t.regex(r3.stderr, /no checkpoints/);
});

test('--resume refuses flags that would change the run', async (t) => {
  const a = dir();
  t.is((await runCli(['pretrain', ...TINY, '--out', a, '--steps', '2'])).code, 0);
  const r = await runCli(['pretrain', '--resume', a, '--steps', '4', '--lr', '1e-2']);
  t.is(r.code, 2);
  t.regex(r.stderr, /drop --lr/);
});

test('a diverging run (--lr 1e30) stops with exit 3, names the last good checkpoint, leaves it loadable', async (t) => {
  const a = dir();
  const r = await runCli(['pretrain', ...TINY, '--out', a, '--steps', '20', '--lr', '1e30', '--warmup', '0', '--save-every', '1', '--eval-every', '0']);
  t.is(r.code, 3, r.stderr);
  const last = r.stderr.trim().split('\n').at(-1)!;
  t.regex(last, /^mamba-dna: training diverged at step (\d+): the (loss|gradient norm) is (NaN|Infinity|-Infinity).*last good checkpoint .*step-\d+ \(step \d+\) is intact/);
  const good = /last good checkpoint (\S+) \(step (\d+)\)/.exec(last)!;
  const ck = await loadTrainingCheckpoint(good[1]);
  t.is(ck.state.step, Number(good[2]));
  t.false(existsSync(join(a, 'model.safetensors')), 'no final model from a diverged run');
});

test('plot: an SVG with axes, tick labels, legend, training and validation curves', async (t) => {
  const a = dir();
  t.is((await runCli(['pretrain', ...TINY, '--out', a, '--steps', '12', '--eval-every', '4'])).code, 0);
  const out = join(a, 'curves.svg');
  const r = await runCli(['plot', a, '--out', out, '--reference', '1.9:lambda 5-mer entropy']);
  t.is(r.code, 0, r.stderr);
  const svg = readFileSync(out, 'utf8');
  t.true(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  t.true(svg.trimEnd().endsWith('</svg>'));
  for (const label of ['bits per base', 'learning rate', 'optimizer step', 'validation (held-out bases)', 'train loss (per step)', 'lambda 5-mer entropy']) t.true(svg.includes(label), label);
  // validation points: step 0, 4, 8, 12
  t.is((svg.match(/<circle /g) ?? []).length - 1, 4); // minus the legend's marker
  t.true((svg.match(/<path d="M/g) ?? []).length >= 4);
  // stdout when no --out; a directory without metrics is exit 3
  const s = await runCli(['plot', a, '--reference', '1.9:lambda 5-mer entropy']);
  t.is(s.code, 0);
  t.is(s.stdout, svg);
  const bad = await runCli(['plot', tmp]);
  t.is(bad.code, 3);
  t.regex(bad.stderr, /metrics\.jsonl: missing/);
});
