import test from 'ava';
import { dims, makeConfig } from '../../src/model/config.js';
import { initWeights, inverseSoftplus, softplus } from '../../src/model/init.js';
import { weightsProblem } from '../../src/model/weights.js';

const cfg = makeConfig();
const { D, ED, N, R, K, V, nLayer } = dims(cfg);
const w = initWeights(cfg, 0);

function stats(arrays: Float32Array[]): { n: number; mean: number; std: number; min: number; max: number } {
  let n = 0, s = 0, s2 = 0, min = Infinity, max = -Infinity;
  for (const a of arrays) for (const v of a) { n++; s += v; s2 += v * v; min = Math.min(min, v); max = Math.max(max, v); }
  const mean = s / n;
  return { n, mean, std: Math.sqrt(s2 / n - mean * mean), min, max };
}

/** U(±b): all inside, extremes close to ±b, std ≈ b/√3, mean ≈ 0 (within 5 standard errors). */
function assertUniform(t: import('ava').ExecutionContext, what: string, arrays: Float32Array[], b: number): void {
  const st = stats(arrays);
  t.log(`${what}: n ${st.n}, mean ${st.mean.toExponential(2)}, std ${st.std.toPrecision(4)} (want ${(b / Math.sqrt(3)).toPrecision(4)}), range [${st.min.toPrecision(4)}, ${st.max.toPrecision(4)}], bound ${b.toPrecision(4)}`);
  t.true(st.min >= -Math.fround(b) && st.max <= Math.fround(b), `${what} within ±${b}`);
  t.true(st.max > b * (1 - 20 / st.n) && st.min < -b * (1 - 20 / st.n), `${what} reaches its bounds`);
  t.true(Math.abs(st.std - b / Math.sqrt(3)) < 5 * (b / Math.sqrt(3)) / Math.sqrt(2 * st.n) + 1e-9, `${what} std`);
  t.true(Math.abs(st.mean) < 5 * (b / Math.sqrt(3)) / Math.sqrt(st.n), `${what} mean`);
}

test('shapes match the config', (t) => {
  t.is(weightsProblem(cfg, w), undefined);
  t.is(w.layers.length, nLayer);
  t.is(w.lmHead, undefined, 'tied: no separate head');
  t.is(w.embedding.length, V * D);
});

test('A_log = log(1..N) exactly on every channel, D = 1, norms = 1', (t) => {
  for (const layer of w.layers) {
    for (let c = 0; c < ED; c++) for (let n = 0; n < N; n++) {
      if (layer.ALog[c * N + n] !== Math.fround(Math.log(n + 1))) return t.fail(`A_log[${c}, ${n}] = ${layer.ALog[c * N + n]}`);
    }
    t.true(layer.D.every((v) => v === 1));
    t.true(layer.norm.every((v) => v === 1));
  }
  t.true(w.normF.every((v) => v === 1));
});

test('softplus(dt_proj.bias) is log-uniform in [dt_min, dt_max] = [1e-3, 1e-1]', (t) => {
  const logs: number[] = [];
  for (const layer of w.layers) for (const b of layer.dtProjBias) logs.push(Math.log(softplus(b)));
  const lo = Math.min(...logs), hi = Math.max(...logs);
  const mean = logs.reduce((a, b) => a + b, 0) / logs.length;
  const want = (Math.log(1e-3) + Math.log(1e-1)) / 2;
  const sem = (Math.log(100) / Math.sqrt(12)) / Math.sqrt(logs.length);
  t.log(`softplus(dt bias) over ${logs.length} channels: [${Math.exp(lo).toExponential(3)}, ${Math.exp(hi).toExponential(3)}], mean log ${mean.toFixed(4)} (want ${want.toFixed(4)} ± ${sem.toFixed(4)})`);
  t.true(lo >= Math.log(1e-3) - 1e-5 && hi <= Math.log(1e-1) + 1e-5);
  t.true(lo < Math.log(1.1e-3) && hi > Math.log(0.09), 'spans the range');
  t.true(Math.abs(mean - want) < 5 * sem);
});

test('dt floor applies when dt_min is below dt_init_floor', (t) => {
  const c = makeConfig({ dModel: 16, nLayer: 2, dtMin: 1e-6, dtMax: 1e-3, dtInitFloor: 1e-4 });
  const ws = initWeights(c, 3);
  const dts = ws.layers.flatMap((l) => [...l.dtProjBias].map(softplus));
  t.true(dts.every((v) => v >= 1e-4 * (1 - 1e-4)), 'floored');
  t.true(dts.filter((v) => Math.abs(v - 1e-4) < 1e-8).length > dts.length / 3, 'about 2/3 of draws below the floor land on it');
});

test('Linear/conv defaults U(±1/√fan_in), dt_proj U(±R^-½), out_proj rescaled by 1/√n_layer, embedding N(0, 0.02²)', (t) => {
  assertUniform(t, 'in_proj', w.layers.map((l) => l.inProj), 1 / Math.sqrt(D));
  assertUniform(t, 'conv1d.weight', w.layers.map((l) => l.conv1dWeight), 1 / Math.sqrt(K));
  assertUniform(t, 'conv1d.bias', w.layers.map((l) => l.conv1dBias), 1 / Math.sqrt(K));
  assertUniform(t, 'x_proj', w.layers.map((l) => l.xProj), 1 / Math.sqrt(ED));
  assertUniform(t, 'dt_proj.weight', w.layers.map((l) => l.dtProjWeight), 1 / Math.sqrt(R));
  assertUniform(t, 'out_proj', w.layers.map((l) => l.outProj), 1 / Math.sqrt(ED) / Math.sqrt(nLayer));
  const e = stats([w.embedding]);
  t.log(`embedding: mean ${e.mean.toExponential(2)}, std ${e.std.toPrecision(4)} (want 0.02)`);
  t.true(Math.abs(e.std - 0.02) < 5 * 0.02 / Math.sqrt(2 * e.n));
  t.true(Math.abs(e.mean) < 5 * 0.02 / Math.sqrt(e.n));
  t.true(e.max > 0.05 && e.min < -0.05, 'gaussian tails (±2.5σ within 2048 draws)');
});

test('seeded: same seed, same weights; another seed, other weights', (t) => {
  const again = initWeights(cfg, 0);
  t.deepEqual(again.layers[5]!.xProj, w.layers[5]!.xProj);
  t.deepEqual(again.embedding, w.embedding);
  const other = initWeights(cfg, 1);
  t.notDeepEqual(other.layers[0]!.inProj, w.layers[0]!.inProj);
});

test('untied head and LayerNorm variants get their extra tensors', (t) => {
  const c = makeConfig({ dModel: 24, nLayer: 2, tieEmbeddings: false, rmsNorm: false });
  const ws = initWeights(c, 9);
  t.is(weightsProblem(c, ws), undefined);
  assertUniform(t, 'lm_head', [ws.lmHead!], 1 / Math.sqrt(24));
  t.true(ws.layers.every((l) => l.normBias!.every((v) => v === 0)));
  t.true(ws.normFBias!.every((v) => v === 0));
});

test('dt_init "constant" fills dt_proj.weight with R^-½·dt_scale', (t) => {
  const c = makeConfig({ dModel: 32, nLayer: 1, dtInit: 'constant', dtScale: 2 });
  const ws = initWeights(c, 0);
  t.true(ws.layers[0]!.dtProjWeight.every((v) => v === Math.fround(2 / Math.sqrt(2))));
});

test('inverseSoftplus inverts softplus over the dt range', (t) => {
  for (const y of [1e-4, 1e-3, 0.0123, 0.1, 1, 5]) t.true(Math.abs(softplus(inverseSoftplus(y)) - y) < 1e-12 * Math.max(1, y), String(y));
});
