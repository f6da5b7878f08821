import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/errors.js';
import { encodeHeader, readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/checkpoint/safetensors.js';
import type { WriteTensor } from '../../src/checkpoint/safetensors.js';
import { mulberry32, randn } from '../helpers/random.js';

const dir = mkdtempSync(join(tmpdir(), 'mamba-dna-st-'));
let counter = 0;
const tmpPath = (name = 'f') => join(dir, `${name}-${counter++}.safetensors`);

/** A file built by hand: any header object (or raw header text), any data bytes, any declared length. */
function handBuilt(header: unknown, data: Uint8Array = new Uint8Array(0), opts: { declaredLength?: bigint; rawHeader?: string; pad?: boolean } = {}): string {
  let text = opts.rawHeader ?? JSON.stringify(header);
  if (opts.pad !== false) text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const h = Buffer.from(text, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(opts.declaredLength ?? BigInt(h.length));
  const path = tmpPath('hand');
  writeFileSync(path, Buffer.concat([len, h, data]));
  return path;
}

const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

async function refused(t: import('ava').ExecutionContext, path: string, pattern: RegExp): Promise<void> {
  const err = await t.throwsAsync(readSafetensors(path), { instanceOf: InputError });
  t.true(err!.message.startsWith(path), `message names the file: ${err!.message}`);
  t.regex(err!.message, pattern);
  t.log(err!.message.slice(path.length));
}

test('F32 round trip: values bit-exact, shapes, metadata, sorted 8-byte-aligned layout', async (t) => {
  const rng = mulberry32(7);
  const tensors = new Map<string, WriteTensor>([
    ['zeta', { shape: [3, 5], data: Float32Array.from(randn(rng, 15)) }],
    ['alpha.weight', { shape: [7], data: Float32Array.from(randn(rng, 7)) }],
    ['scalar', { shape: [], data: Float32Array.of(-0) }],
    ['empty', { shape: [0, 4], data: new Float32Array(0) }],
    ['special', { shape: [4], data: Float32Array.of(NaN, Infinity, -Infinity, 1e-45) }],
  ]);
  const path = tmpPath();
  await writeSafetensors(path, tensors, { format: 'pt', note: 'héllo' });
  const raw = readFileSync(path);
  const n = Number(raw.readBigUInt64LE(0));
  t.is((8 + n) % 8, 0, 'data starts 8-byte aligned');
  const headerText = raw.subarray(8, 8 + n).toString('utf8');
  t.regex(headerText, /^\{"__metadata__":\{"format":"pt","note":"héllo"\},"alpha\.weight":/);
  t.regex(headerText, / *$/);
  const file = await readSafetensors(path);
  t.deepEqual(file.metadata, { format: 'pt', note: 'héllo' });
  t.deepEqual([...file.tensors.keys()], ['alpha.weight', 'empty', 'scalar', 'special', 'zeta'], 'file order = sorted names');
  for (const [name, want] of tensors) {
    const got = file.tensors.get(name)!;
    t.deepEqual(got.shape, [...want.shape], name);
    t.deepEqual(new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength), new Uint8Array(want.data.buffer), `${name} bit-exact`);
    t.is(file.dtypes.get(name), 'F32');
  }
  const header = await readSafetensorsHeader(path);
  t.is(header.dataStart, 8 + n);
  t.is(header.dataBytes, 4 * (15 + 7 + 1 + 0 + 4));
  t.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left behind');
});

test('reads F16 and BF16 (widened to float32), including subnormals, infinities and NaN', async (t) => {
  // F16 bit patterns and their exact values
  const f16 = [
    [0x3c00, 1], [0xc000, -2], [0x3555, 0.333251953125], [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24],
    [0x7bff, 65504], [0x7c00, Infinity], [0xfc00, -Infinity], [0x8000, -0],
  ] as const;
  // BF16 is the top 16 bits of an f32
  const bf16 = [[0x3f80, 1], [0xc049, -3.140625], [0x0001, 2 ** -133], [0x7f80, Infinity], [0x4780, 65536]] as const;
  const bytes = new Uint8Array(2 * (f16.length + 1 + bf16.length));
  const dv = new DataView(bytes.buffer);
  f16.forEach(([bits], i) => dv.setUint16(2 * i, bits, true));
  dv.setUint16(2 * f16.length, 0x7e00, true); // NaN
  bf16.forEach(([bits], i) => dv.setUint16(2 * (f16.length + 1 + i), bits, true));
  const hA = 2 * (f16.length + 1);
  const path = handBuilt(
    {
      h: { dtype: 'F16', shape: [f16.length + 1], data_offsets: [0, hA] },
      b: { dtype: 'BF16', shape: [bf16.length], data_offsets: [hA, bytes.length] },
    },
    bytes,
  );
  const file = await readSafetensors(path);
  t.is(file.dtypes.get('h'), 'F16');
  t.is(file.dtypes.get('b'), 'BF16');
  const h = file.tensors.get('h')!.data;
  f16.forEach(([bits, v], i) => t.true(Object.is(h[i], Math.fround(v)), `F16 0x${bits.toString(16)} → ${h[i]}, want ${v}`));
  t.true(Number.isNaN(h[f16.length]));
  const b = file.tensors.get('b')!.data;
  bf16.forEach(([bits, v], i) => t.true(Object.is(b[i], Math.fround(v)), `BF16 0x${bits.toString(16)} → ${b[i]}, want ${v}`));
});

test('F32 tensor at an unaligned offset (after an odd-sized F16 tensor) is still read correctly', async (t) => {
  const data = new Uint8Array(2 + 8);
  new DataView(data.buffer).setUint16(0, 0x3c00, true);
  data.set(f32(1.5, -2.25), 2);
  const path = handBuilt({ a: { dtype: 'F16', shape: [1], data_offsets: [0, 2] }, b: { dtype: 'F32', shape: [2], data_offsets: [2, 10] } }, data);
  const file = await readSafetensors(path);
  t.deepEqual([...file.tensors.get('b')!.data], [1.5, -2.25]);
});

test('spec violations are refused with the reason', async (t) => {
  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  await refused(t, handBuilt(ok, f32(1, 2), { declaredLength: 1_000_000n }), /header length 1000000 runs past the end/);
  await refused(t, handBuilt(ok, f32(1, 2), { declaredLength: 200_000_000n }), /exceeds the 100000000-byte limit/);
  await refused(t, handBuilt(null, f32(1, 2), { rawHeader: '{"a": {"dtype": "F32",' }), /not valid JSON/);
  await refused(t, handBuilt(null, f32(1, 2), { rawHeader: '[1, 2, 3]' }), /does not start with '\{'/);
  await refused(t, handBuilt(
    { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, new Uint8Array(12)),
  /tensor "b" starts at byte 8 but the previous tensor "a" ends at 4: a hole/);
  await refused(t, handBuilt(
    { a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)),
  /tensor "a" starts at byte 4, not 0: a hole at the start/);
  await refused(t, handBuilt(
    { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)),
  /tensor "b" starts at byte 4, inside "a" which ends at 8: overlapping/);
  await refused(t, handBuilt({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(1, 2)), /hold 8 bytes but shape \[3\] of F32 needs 12/);
  await refused(t, handBuilt({ a: { dtype: 'F24', shape: [2], data_offsets: [0, 6] } }, new Uint8Array(6)), /unknown dtype "F24"/);
  await refused(t, handBuilt(ok, new Uint8Array([...f32(1, 2), 0, 0, 0, 0])), /4 trailing bytes after the last tensor/);
  await refused(t, handBuilt({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(1, 2)), /need 16 bytes of data but the file has 8/);
  await refused(t, handBuilt({ a: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, f32(1, 2)), /shape must be a list of non-negative integers/);
  await refused(t, handBuilt({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, f32(1, 2)), /end before begin/);
  await refused(t, handBuilt({ __metadata__: { step: 5 }, ...ok }, f32(1, 2)), /__metadata__\["step"\] must be a string/);
  await refused(t, handBuilt(ok, new Uint8Array(0), { rawHeader: '{"a":1}\u00ff' }), /not valid JSON/);
  const short = tmpPath('short');
  writeFileSync(short, Buffer.from([1, 2, 3]));
  await refused(t, short, /3 bytes, shorter than the 8-byte header length/);
  // invalid UTF-8 in the header
  const bad = Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x20, 0x20, 0x20, 0x20])]);
  const badPath = tmpPath('utf8');
  writeFileSync(badPath, bad);
  await refused(t, badPath, /not valid UTF-8/);
});

test('valid but unsupported dtypes are refused by name; a missing file is an InputError', async (t) => {
  await refused(t, handBuilt({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), /tensor "ids" has dtype I64; mamba-dna reads F32, F16 and BF16/);
  // the header alone of the same file is fine (it is valid safetensors)
  const header = await readSafetensorsHeader(handBuilt({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)));
  t.is(header.tensors.get('ids')!.dtype, 'I64');
  await t.throwsAsync(readSafetensors(join(dir, 'nope.safetensors')), { instanceOf: InputError, message: /no such file/ });
  await t.throwsAsync(readSafetensors(dir), { instanceOf: InputError, message: /is a directory/ });
});

test('header layout matches the reference writer (compact JSON, space padding)', (t) => {
  const { header, order } = encodeHeader(new Map([['b', { shape: [1], data: Float32Array.of(1) }], ['a', { shape: [2], data: Float32Array.of(1, 2) }]]), { format: 'pt' });
  const text = Buffer.from(header.subarray(8)).toString('utf8');
  const json = '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
  t.is(text.trimEnd(), json);
  t.is(text.length % 8, 0);
  t.is(text.length - json.length, (8 - (json.length % 8)) % 8);
  t.deepEqual(order, ['a', 'b']);
});

test('reads the golden fixture written by the Python script (hand-rolled writer)', async (t) => {
  const file = await readSafetensors('fixtures/golden/tiny/model.safetensors');
  t.is(file.metadata.format, 'pt');
  t.true([...file.dtypes.values()].every((d) => d === 'F32'));
  t.is(file.tensors.size, 1 + 2 * 10 + 1);
});
