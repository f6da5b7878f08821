import test from 'ava';
import { readFileSync } from 'node:fs';
import { InputError, UsageError } from '../../src/errors.js';
import {
  DEFAULT_CONFIG, configFromJson, configFromJsonText, configToJson, configToJsonText, dims, makeConfig, paddedVocabSize, parameterCount,
} from '../../src/model/config.js';
import { tensorSpecs } from '../../src/model/weights.js';

const golden = JSON.parse(readFileSync('fixtures/golden/tiny/expected.json', 'utf8'));

test('DNA defaults and derived sizes', (t) => {
  const cfg = makeConfig();
  t.deepEqual(dims(cfg), { D: 128, ED: 256, N: 16, R: 8, K: 4, V: 16, nLayer: 12 });
  t.is(cfg.normEps, 1e-5);
  t.true(cfg.rmsNorm && cfg.tieEmbeddings);
});

test('vocab is padded UP to a multiple of pad_vocab_size_multiple (MambaLMHeadModel rule)', (t) => {
  const v = (vocabSize: number, padVocabSizeMultiple: number) => paddedVocabSize(makeConfig({ vocabSize, padVocabSizeMultiple }));
  t.is(v(12, 8), 16);
  t.is(v(16, 8), 16);
  t.is(v(17, 8), 24);
  t.is(v(50277, 8), 50280);
  t.is(v(12, 1), 12);
  t.is(dims(makeConfig({ dModel: 100 })).R, 7, 'dt_rank auto = ceil(100/16)');
  t.is(dims(makeConfig({ dModel: 100, dtRank: 3 })).R, 3);
});

test('parameter count of the default model = 1,401,472, what PyTorch counts for the mamba_ssm module layout', (t) => {
  const cfg = makeConfig();
  t.is(parameterCount(cfg), 1_401_472);
  // computed by scripts/golden/make_golden.py as sum(p.numel() for p in model.parameters())
  t.is(parameterCount(cfg), golden.parameter_count_default_config);
  const tiny = configFromJsonText(readFileSync('fixtures/golden/tiny/config.json', 'utf8'));
  t.is(parameterCount(tiny), golden.parameter_count_tiny_config);
  // the count equals the tensors a checkpoint holds (tied head stored once)
  const stored = (c: typeof cfg) => tensorSpecs(c).reduce((s, x) => s + x.shape.reduce((a, b) => a * b, 1), 0);
  t.is(stored(cfg), 1_401_472);
  const untied = makeConfig({ tieEmbeddings: false });
  t.is(parameterCount(untied), 1_401_472 + 16 * 128);
  t.is(stored(untied), parameterCount(untied));
  const layerNorm = makeConfig({ rmsNorm: false });
  t.is(parameterCount(layerNorm), 1_401_472 + 13 * 128);
  t.is(stored(layerNorm), parameterCount(layerNorm));
});

test('config.json uses mamba_ssm names and round-trips', (t) => {
  const cfg = makeConfig();
  t.deepEqual(configToJson(cfg), {
    d_model: 128, n_layer: 12, vocab_size: 12, ssm_cfg: { d_state: 16, d_conv: 4, expand: 2 },
    rms_norm: true, residual_in_fp32: true, fused_add_norm: true, pad_vocab_size_multiple: 8, tie_embeddings: true,
  });
  t.deepEqual(configFromJsonText(configToJsonText(cfg)), cfg);
  const odd = makeConfig({ dModel: 40, nLayer: 3, dState: 5, dConv: 3, expand: 3, dtRank: 2, tieEmbeddings: false, dtMax: 0.2, dtInit: 'constant' });
  const json = configToJson(odd);
  t.deepEqual(json.ssm_cfg, { d_state: 5, d_conv: 3, expand: 3, dt_rank: 2, dt_max: 0.2, dt_init: 'constant' });
  t.deepEqual(configFromJson(json), odd);
  t.true(Object.isFrozen(DEFAULT_CONFIG));
});

test('reads mamba_ssm configs: dt_rank "auto", 2.x fields at plain-Mamba values, defaults for absent ssm_cfg keys', (t) => {
  const cfg = configFromJson({
    d_model: 768, n_layer: 24, vocab_size: 50277, d_intermediate: 0, attn_layer_idx: [], attn_cfg: {},
    ssm_cfg: { layer: 'Mamba1', dt_rank: 'auto', use_fast_path: true, conv_bias: true, bias: false },
    rms_norm: true, residual_in_fp32: true, fused_add_norm: true, pad_vocab_size_multiple: 8, tie_embeddings: true,
  });
  t.deepEqual(dims(cfg), { D: 768, ED: 1536, N: 16, R: 48, K: 4, V: 50280, nLayer: 24 });
  t.is(parameterCount(cfg), 129_135_360, 'the mamba-130m layout: 24 layers of 3,771,648 + 50280×768 embedding + norm_f');
});

test('invalid config.json is refused naming the file and the field', (t) => {
  const base = configToJson(makeConfig());
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...base, d_modle: 3 }, /field "d_modle" is not a mamba_ssm MambaConfig field/],
    [{ ...base, d_model: 0 }, /field "d_model" must be a positive integer, got 0/],
    [{ ...base, d_model: 12.5 }, /field "d_model" must be a positive integer/],
    [{ ...base, n_layer: '12' }, /field "n_layer" must be a positive integer, got "12"/],
    [(({ vocab_size: _, ...r }) => r)(base), /field "vocab_size" is missing/],
    [{ ...base, rms_norm: 'yes' }, /field "rms_norm" must be true or false/],
    [{ ...base, ssm_cfg: { d_state: -1 } }, /field "ssm_cfg.d_state" must be a positive integer/],
    [{ ...base, ssm_cfg: { d_state: 16, headdim: 64 } }, /field "ssm_cfg.headdim" is not a Mamba \(v1\) option/],
    [{ ...base, ssm_cfg: { layer: 'Mamba2' } }, /field "ssm_cfg.layer" must be "Mamba1"/],
    [{ ...base, ssm_cfg: { dt_rank: 'big' } }, /field "ssm_cfg.dt_rank" must be a positive integer/],
    [{ ...base, ssm_cfg: { bias: true } }, /field "ssm_cfg.bias" must be false/],
    [{ ...base, ssm_cfg: { conv_bias: false } }, /field "ssm_cfg.conv_bias" must be true/],
    [{ ...base, ssm_cfg: { dt_min: 0.5, dt_max: 0.1 } }, /field "ssm_cfg.dt_min" \(0.5\) must not exceed ssm_cfg.dt_max \(0.1\)/],
    [{ ...base, ssm_cfg: [] }, /field "ssm_cfg" must be an object/],
    [{ ...base, d_intermediate: 512 }, /field "d_intermediate" must be 0/],
    [{ ...base, attn_layer_idx: [3] }, /field "attn_layer_idx" must be empty/],
  ];
  for (const [json, pattern] of cases) {
    const err = t.throws(() => configFromJson(json, 'ckpt/config.json'), { instanceOf: InputError });
    t.true(err!.message.startsWith('ckpt/config.json: '), err!.message);
    t.regex(err!.message, pattern);
  }
  t.throws(() => configFromJsonText('{"d_model": 1,', 'x/config.json'), { instanceOf: InputError, message: /^x\/config.json: not valid JSON/ });
  t.throws(() => configFromJson([1, 2]), { instanceOf: InputError, message: /expected a JSON object/ });
  t.throws(() => makeConfig({ dModel: -1 }), { instanceOf: UsageError, message: /dModel must be a positive integer/ });
});
