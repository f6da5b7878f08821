import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { InputError } from '../../src/errors.js';
import { CONFIG_METADATA_KEY, loadCheckpoint, saveCheckpoint, weightsToTensors } from '../../src/checkpoint/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.js';
import type { WriteTensor } from '../../src/checkpoint/safetensors.js';
import { configToJsonText, dims, makeConfig } from '../../src/model/config.js';
import type { MambaConfig } from '../../src/model/config.js';
import { initWeights } from '../../src/model/init.js';
import { tensorSpecs } from '../../src/model/weights.js';

const root = mkdtempSync(join(tmpdir(), 'mamba-dna-ckpt-'));
let counter = 0;
const fresh = (name = 'ck') => join(root, `${name}-${counter++}`);

const small = makeConfig({ dModel: 24, nLayer: 3, dState: 5, dConv: 3, expand: 2 });

/** Writes a checkpoint directory by hand: config.json + a safetensors file of the given tensors. */
async function handCheckpoint(config: MambaConfig, tensors: Map<string, WriteTensor>, metadata: Record<string, string> = { format: 'pt' }): Promise<string> {
  const dir = fresh('hand');
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), configToJsonText(config));
  await writeSafetensors(join(dir, 'model.safetensors'), tensors, metadata);
  return dir;
}

/** staging directories of saves into dir still on disk (tests in this file run concurrently: per dir) */
function leftovers(dir: string): string[] {
  return readdirSync(root).filter((f) => f.startsWith(`.${basename(dir)}.saving-`));
}

test('save → load round trip: every tensor bit-exact, mamba_ssm names, metadata kept', async (t) => {
  const w = initWeights(small, 11);
  const dir = fresh();
  await saveCheckpoint(dir, small, w, { metadata: { step: '1200' } });
  t.deepEqual(readdirSync(dir).sort(), ['config.json', 'model.safetensors']);
  t.is(statSync(dir).mode & 0o777, 0o755 & ~process.umask());
  const loaded = await loadCheckpoint(dir);
  t.deepEqual(loaded.config, small);
  t.deepEqual(loaded.weights, w);
  t.is(loaded.metadata.format, 'pt');
  t.is(loaded.metadata.step, '1200');
  t.deepEqual(loaded.unexpected, []);
  t.deepEqual(loaded.notes, []);
  const file = await readSafetensors(join(dir, 'model.safetensors'));
  const { D, ED, N, R, K, V } = dims(small);
  t.deepEqual(file.tensors.get('backbone.embedding.weight')!.shape, [V, D]);
  t.deepEqual(file.tensors.get('backbone.layers.2.mixer.in_proj.weight')!.shape, [2 * ED, D]);
  t.deepEqual(file.tensors.get('backbone.layers.2.mixer.conv1d.weight')!.shape, [ED, 1, K]);
  t.deepEqual(file.tensors.get('backbone.layers.0.mixer.x_proj.weight')!.shape, [R + 2 * N, ED]);
  t.deepEqual(file.tensors.get('backbone.layers.0.mixer.dt_proj.weight')!.shape, [ED, R]);
  t.deepEqual(file.tensors.get('backbone.layers.0.mixer.A_log')!.shape, [ED, N]);
  t.deepEqual(file.tensors.get('backbone.layers.0.mixer.out_proj.weight')!.shape, [D, ED]);
  t.deepEqual(file.tensors.get('backbone.norm_f.weight')!.shape, [D]);
  t.false(file.tensors.has('lm_head.weight'), 'tied head stored once, as safetensors.torch.save_model does');
  t.is(file.tensors.size, 1 + 3 * 10 + 1);
  t.deepEqual(leftovers(dir), []);
});

test('untied head and LayerNorm checkpoints round-trip with lm_head.weight and norm biases', async (t) => {
  const c = makeConfig({ dModel: 16, nLayer: 2, tieEmbeddings: false, rmsNorm: false });
  const w = initWeights(c, 2);
  const dir = fresh();
  await saveCheckpoint(dir, c, w);
  const file = await readSafetensors(join(dir, 'model.safetensors'));
  t.true(file.tensors.has('lm_head.weight') && file.tensors.has('backbone.layers.1.norm.bias') && file.tensors.has('backbone.norm_f.bias'));
  t.deepEqual((await loadCheckpoint(dir)).weights, w);
});

test('the golden fixture (written by PyTorch-side Python) loads with the right names and shapes', async (t) => {
  const loaded = await loadCheckpoint('fixtures/golden/tiny');
  const { D, ED, N, R, K, V } = dims(loaded.config);
  t.deepEqual({ D, ED, N, R, K, V }, { D: 16, ED: 32, N: 4, R: 1, K: 4, V: 16 });
  t.is(loaded.weights.layers.length, 2);
  t.deepEqual(loaded.unexpected, []);
  t.is(loaded.weights.embedding.length, V * D);
  t.is(loaded.weights.layers[1]!.conv1dWeight.length, ED * K);
  // the golden weights are deliberately not the init values
  t.false(loaded.weights.layers[0]!.D.every((v) => v === 1));
  t.false(CONFIG_METADATA_KEY in loaded.metadata, 'a foreign file without our fingerprint is fine');
});

test('missing tensor and wrong shape: the first problem named, the rest counted', async (t) => {
  const tensors = weightsToTensors(small, initWeights(small, 0));
  tensors.delete('backbone.layers.1.mixer.D');
  let dir = await handCheckpoint(small, tensors);
  let err = await t.throwsAsync(loadCheckpoint(dir), { instanceOf: InputError });
  t.is(err!.message, `${join(dir, 'model.safetensors')}: tensor "backbone.layers.1.mixer.D" [48] is missing; the weights do not match ${join(dir, 'config.json')}`);

  const t2 = weightsToTensors(small, initWeights(small, 0));
  t2.set('backbone.layers.0.mixer.A_log', { shape: [5, 48], data: new Float32Array(240) });
  t2.delete('backbone.norm_f.weight');
  t2.delete('backbone.layers.2.norm.weight');
  dir = await handCheckpoint(small, t2);
  err = await t.throwsAsync(loadCheckpoint(dir), { instanceOf: InputError });
  t.regex(err!.message, /tensor "backbone\.layers\.0\.mixer\.A_log" has shape \[5, 48\], expected \[48, 5\] from config\.json \(and 2 more problems\)/);

  // conv1d stored as (ED, K) instead of PyTorch's (ED, 1, K)
  const t3 = weightsToTensors(small, initWeights(small, 0));
  t3.set('backbone.layers.0.mixer.conv1d.weight', { shape: [48, 3], data: new Float32Array(144) });
  err = await t.throwsAsync(loadCheckpoint(await handCheckpoint(small, t3)), { instanceOf: InputError });
  t.regex(err!.message, /conv1d\.weight" has shape \[48, 3\], expected \[48, 1, 3\]/);
});

test('extras are reported, a tied lm_head.weight duplicate is accepted only when equal', async (t) => {
  const w = initWeights(small, 0);
  const tensors = weightsToTensors(small, w);
  tensors.set('backbone.layers.0.mixer.extra_thing', { shape: [2], data: Float32Array.of(1, 2) });
  tensors.set('lm_head.weight', { shape: [16, 24], data: w.embedding.slice() });
  const loaded = await loadCheckpoint(await handCheckpoint(small, tensors));
  t.deepEqual(loaded.unexpected, ['backbone.layers.0.mixer.extra_thing']);
  t.regex(loaded.notes.join('\n'), /1 unexpected tensor\(s\) ignored: backbone\.layers\.0\.mixer\.extra_thing/);
  const bad = w.embedding.slice();
  bad[7] = 42;
  tensors.set('lm_head.weight', { shape: [16, 24], data: bad });
  await t.throwsAsync(loadCheckpoint(await handCheckpoint(small, tensors)), { instanceOf: InputError, message: /"lm_head\.weight" differs from "backbone\.embedding\.weight" but config\.json has tie_embeddings true/ });
});

test('missing directory, files and bad config are InputErrors naming the path', async (t) => {
  const absent = fresh('absent');
  await t.throwsAsync(loadCheckpoint(absent), { instanceOf: InputError, message: new RegExp(`checkpoint ${absent}: no such directory \\(create one with`) });
  const noConfig = fresh();
  mkdirSync(noConfig);
  await t.throwsAsync(loadCheckpoint(noConfig), { instanceOf: InputError, message: /config\.json: missing; a checkpoint directory holds config\.json and model\.safetensors/ });
  writeFileSync(join(noConfig, 'config.json'), configToJsonText(small));
  writeFileSync(join(noConfig, 'pytorch_model.bin'), 'x');
  await t.throwsAsync(loadCheckpoint(noConfig), { instanceOf: InputError, message: /model\.safetensors: missing \(found pytorch_model\.bin: convert it/ });
  writeFileSync(join(noConfig, 'config.json'), '{"d_model": 16, "n_layer": 2, "vocab_size": 12, "d_state": 4}');
  await t.throwsAsync(loadCheckpoint(noConfig), { instanceOf: InputError, message: /config\.json: field "d_state" is not a mamba_ssm MambaConfig field/ });
  const file = join(root, `plain-file-${counter++}`);
  writeFileSync(file, 'x');
  await t.throwsAsync(loadCheckpoint(file), { instanceOf: InputError, message: /not a directory/ });
});

test('saving into an impossible place is an InputError; nothing is left behind', async (t) => {
  const file = join(root, `blocker-${counter++}`);
  writeFileSync(file, 'x');
  await t.throwsAsync(saveCheckpoint(join(file, 'ck'), small, initWeights(small, 0)), { instanceOf: InputError, message: /not a directory|already exists/ });
  await t.throwsAsync(saveCheckpoint(file, small, initWeights(small, 0)), { instanceOf: InputError, message: /exists and is not a directory/ });
  t.deepEqual(leftovers(file), []);
  if (process.getuid?.() !== 0) {
    const ro = fresh('ro');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    await t.throwsAsync(saveCheckpoint(join(ro, 'ck'), small, initWeights(small, 0)), { instanceOf: InputError, message: /permission denied/ });
  } else {
    t.log('running as root: the read-only-directory case cannot be made here (root writes anyway)');
  }
});

test('interrupted save (rename fails before anything moved) leaves the previous checkpoint intact', async (t) => {
  const dir = fresh();
  const old = initWeights(small, 1);
  await saveCheckpoint(dir, small, old);
  const before = readFileSync(join(dir, 'model.safetensors'));
  const failing = async () => {
    throw Object.assign(new Error('simulated crash'), { code: 'EIO' });
  };
  await t.throwsAsync(saveCheckpoint(dir, small, initWeights(small, 2), { rename: failing }), { message: /simulated crash/ });
  t.deepEqual(readFileSync(join(dir, 'model.safetensors')), before);
  t.deepEqual((await loadCheckpoint(dir)).weights, old);
  t.deepEqual(leftovers(dir), [], 'staging directory removed');
  // a brand-new directory is never half-made either
  const newDir = fresh();
  await t.throwsAsync(saveCheckpoint(newDir, small, old, { rename: failing }));
  t.false(existsSync(newDir));
  t.deepEqual(leftovers(newDir), []);
});

test('interrupted between the two renames: same config loads the new weights; a changed config is detected', async (t) => {
  let calls = 0;
  const secondFails = async (from: string, to: string) => {
    if (++calls === 2) throw new Error('simulated crash after the weights moved');
    renameSync(from, to);
  };
  const dir = fresh();
  await saveCheckpoint(dir, small, initWeights(small, 1));
  const newer = initWeights(small, 2);
  await t.throwsAsync(saveCheckpoint(dir, small, newer, { rename: secondFails }));
  t.deepEqual((await loadCheckpoint(dir)).weights, newer, 'weights replaced, config unchanged: a consistent checkpoint');

  calls = 0;
  const bigger = makeConfig({ dModel: 32, nLayer: 2 });
  await t.throwsAsync(saveCheckpoint(dir, bigger, initWeights(bigger, 0), { rename: secondFails }));
  const err = await t.throwsAsync(loadCheckpoint(dir), { instanceOf: InputError });
  t.regex(err!.message, /model\.safetensors was written for a different configuration than .*config\.json \(an interrupted save/);
  t.log(err!.message);
});

test('a process killed mid-save (SIGKILL after the weights moved) leaves a checkpoint that loads or is refused with the reason', async (t) => {
  const dir = fresh();
  await saveCheckpoint(dir, small, initWeights(small, 1));
  const moduleUrl = new URL('../../src/checkpoint/checkpoint.js', import.meta.url).href;
  const configUrl = new URL('../../src/model/config.js', import.meta.url).href;
  const initUrl = new URL('../../src/model/init.js', import.meta.url).href;
  const script = `
    import { renameSync } from 'node:fs';
    const { saveCheckpoint } = await import(${JSON.stringify(moduleUrl)});
    const { makeConfig } = await import(${JSON.stringify(configUrl)});
    const { initWeights } = await import(${JSON.stringify(initUrl)});
    const cfg = makeConfig(JSON.parse(process.argv[2]));
    let n = 0;
    await saveCheckpoint(process.argv[1], cfg, initWeights(cfg, 5), {
      rename: async (from, to) => { renameSync(from, to); if (++n === Number(process.argv[3])) process.kill(process.pid, 'SIGKILL'); },
    });`;
  const run = (cfg: object, killAfter: number) => spawnSync(process.execPath, ['--input-type=module', '-e', script, dir, JSON.stringify(cfg), String(killAfter)], { encoding: 'utf8' });

  const same = run({ dModel: 24, nLayer: 3, dState: 5, dConv: 3 }, 1);
  t.is(same.signal, 'SIGKILL', same.stderr);
  t.deepEqual((await loadCheckpoint(dir)).weights, initWeights(small, 5), 'same config: the new weights load');

  const changed = run({ dModel: 8, nLayer: 1 }, 1);
  t.is(changed.signal, 'SIGKILL', changed.stderr);
  await t.throwsAsync(loadCheckpoint(dir), { instanceOf: InputError, message: /written for a different configuration/ });
  t.true(leftovers(dir).length >= 1, 'a killed process leaves its staging directory (named .<dir>.saving-*) behind');
  t.is(readFileSync(join(dir, 'config.json'), 'utf8'), configToJsonText(small), 'config.json itself is never half-written');
});

test('tensorSpecs follows the state-dict order of MambaLMHeadModel', (t) => {
  const names = tensorSpecs(makeConfig({ nLayer: 1 })).map((s) => s.name);
  t.deepEqual(names, [
    'backbone.embedding.weight',
    'backbone.layers.0.mixer.A_log', 'backbone.layers.0.mixer.D', 'backbone.layers.0.mixer.in_proj.weight',
    'backbone.layers.0.mixer.conv1d.weight', 'backbone.layers.0.mixer.conv1d.bias', 'backbone.layers.0.mixer.x_proj.weight',
    'backbone.layers.0.mixer.dt_proj.weight', 'backbone.layers.0.mixer.dt_proj.bias', 'backbone.layers.0.mixer.out_proj.weight',
    'backbone.layers.0.norm.weight', 'backbone.norm_f.weight',
  ]);
});

test.after.always(() => rmSync(root, { recursive: true, force: true }));

test('editing flags that do not change the weight layout (fused_add_norm, residual_in_fp32) keeps the checkpoint loadable', async (t) => {
  const dir = fresh();
  const w = initWeights(small, 4);
  await saveCheckpoint(dir, small, w);
  const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...json, fused_add_norm: false, residual_in_fp32: false }));
  const loaded = await loadCheckpoint(dir);
  t.false(loaded.config.fusedAddNorm);
  t.deepEqual(loaded.weights, w);
});
