// safetensors reader and writer (https://huggingface.co/docs/safetensors, format section):
//   8 bytes  N, unsigned little-endian u64: header length
//   N bytes  UTF-8 JSON: {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end)}}
//   rest     the byte buffer; offsets are relative to it, little-endian, C order.
// Validation follows the reference implementation's checks (Rust `safetensors` crate): header
// bounded, within the file, starts with '{', offsets contiguous from 0 with no hole or overlap,
// each size = numel·dtype size, and the last tensor ends exactly at end of file.
// The writer emits what the Python library writes: header padded with spaces so the data starts
// 8-byte aligned, tensors ordered by dtype alignment then name, `__metadata__` {"format": "pt"}.
// Reads decode F32, F16 and BF16 (to Float32Array); other valid dtypes are refused by name.
import { open, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { endianness } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.js';

/** The Rust crate's MAX_HEADER_SIZE: a larger header is refused before it is read. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Every dtype of the spec, with its size in bytes. */
export const DTYPE_BYTES: Readonly<Record<string, number>> = Object.freeze({
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
});

export type SupportedDtype = 'F32' | 'F16' | 'BF16';

export interface TensorInfo {
  dtype: string;
  shape: number[];
  /** [begin, end) in bytes, relative to the data buffer after the header */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** tensors in file order (ascending offsets) */
  tensors: Map<string, TensorInfo>;
  /** 8 + N: where the data buffer starts in the file */
  dataStart: number;
  dataBytes: number;
}

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  /** in file order; F16/BF16 already widened to float32 */
  tensors: Map<string, Tensor>;
  /** the dtype each tensor had on disk */
  dtypes: Map<string, string>;
}

const LITTLE_ENDIAN = endianness() === 'LE';

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** Parses and validates the header bytes; `fileSize` is the whole file's size. */
export function parseHeader(path: string, headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  const fail = (why: string): never => {
    throw new InputError(`${path}: not a valid safetensors file: ${why}`);
  };
  const n = headerBytes.length;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`header does not start with '{' (got ${JSON.stringify(text.slice(0, 16))})`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail('header is not a JSON object');

  const metadata: Record<string, string> = {};
  const entries: Array<[string, TensorInfo]> = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__["${k}"] must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`tensor "${name}": entry must be an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    const extra = Object.keys(value).filter((k) => k !== 'dtype' && k !== 'shape' && k !== 'data_offsets');
    if (extra.length) fail(`tensor "${name}": unknown field "${extra[0]}"`);
    if (typeof dtype !== 'string') return fail(`tensor "${name}": dtype missing or not a string`);
    if (!(dtype in DTYPE_BYTES)) fail(`tensor "${name}": unknown dtype "${dtype}" (known: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      return fail(`tensor "${name}": shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      return fail(`tensor "${name}": data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`tensor "${name}": data_offsets [${begin}, ${end}] end before begin`);
    entries.push([name, { dtype, shape: shape as number[], dataOffsets: [begin, end] }]);
  }

  // The reference validator: sort by offsets, then each tensor starts where the previous ended.
  entries.sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  const dataStart = 8 + n;
  const dataBytes = fileSize - dataStart;
  let cursor = 0;
  let prev = '';
  for (const [name, info] of entries) {
    const [begin, end] = info.dataOffsets;
    if (begin > cursor) {
      fail(prev
        ? `tensor "${name}" starts at byte ${begin} but the previous tensor "${prev}" ends at ${cursor}: a hole in the data buffer`
        : `tensor "${name}" starts at byte ${begin}, not 0: a hole at the start of the data buffer`);
    }
    if (begin < cursor) fail(`tensor "${name}" starts at byte ${begin}, inside "${prev}" which ends at ${cursor}: overlapping data_offsets`);
    const want = numel(info.shape) * DTYPE_BYTES[info.dtype]!;
    if (end - begin !== want) fail(`tensor "${name}": data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape ${JSON.stringify(info.shape)} of ${info.dtype} needs ${want}`);
    cursor = end;
    prev = name;
  }
  if (cursor > dataBytes) fail(`tensors need ${cursor} bytes of data but the file has ${dataBytes} after the header (truncated file?)`);
  if (cursor < dataBytes) fail(`${dataBytes - cursor} trailing bytes after the last tensor (data buffer is ${dataBytes} bytes, tensors cover ${cursor})`);
  return { metadata, tensors: new Map(entries), dataStart, dataBytes };
}

async function readExactly(fh: FileHandle, buf: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new InputError(`${path}: file shrank while being read (expected ${buf.length} bytes at ${position})`);
    done += bytesRead;
  }
}

async function openForRead(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new InputError(`${path}: no such file`);
    if (e.code === 'EISDIR') throw new InputError(`${path}: is a directory, expected a .safetensors file`);
    if (e.code === 'EACCES') throw new InputError(`${path}: permission denied`);
    throw err;
  }
}

async function readHeaderFrom(fh: FileHandle, path: string): Promise<SafetensorsHeader> {
  const st = await fh.stat();
  if (st.isDirectory()) throw new InputError(`${path}: is a directory, expected a .safetensors file`);
  const size = st.size;
  if (size < 8) throw new InputError(`${path}: not a valid safetensors file: ${size} bytes, shorter than the 8-byte header length`);
  const lenBuf = new Uint8Array(8);
  await readExactly(fh, lenBuf, 0, path);
  const n64 = new DataView(lenBuf.buffer).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) throw new InputError(`${path}: not a valid safetensors file: header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(n64);
  if (8 + n > size) throw new InputError(`${path}: not a valid safetensors file: header length ${n} runs past the end of the ${size}-byte file`);
  const header = new Uint8Array(n);
  await readExactly(fh, header, 8, path);
  return parseHeader(path, header, size);
}

/** Reads only the header (names, dtypes, shapes, metadata), validated against the file size. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const fh = await openForRead(path);
  try {
    return await readHeaderFrom(fh, path);
  } finally {
    await fh.close();
  }
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal (and ±0)
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Decodes one tensor's bytes (a view into the data buffer) to float32. F32 is a view when aligned. */
function decode(bytes: Uint8Array, dtype: string, count: number): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, count);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
    return out;
  }
  const out = new Float32Array(count);
  if (dtype === 'F16') {
    for (let i = 0; i < count; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true));
  } else {
    // BF16 is the top half of an f32
    const u32 = new Uint32Array(1);
    const f32 = new Float32Array(u32.buffer);
    for (let i = 0; i < count; i++) {
      u32[0] = dv.getUint16(2 * i, true) << 16;
      out[i] = f32[0]!;
    }
  }
  return out;
}

/**
 * Reads a safetensors file: the header first, then the data buffer once into one ArrayBuffer;
 * F32 tensors are views into it (no second copy), F16/BF16 are widened.
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  const fh = await openForRead(path);
  try {
    const header = await readHeaderFrom(fh, path);
    for (const [name, info] of header.tensors) {
      if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') {
        throw new InputError(`${path}: tensor "${name}" has dtype ${info.dtype}; mamba-dna reads F32, F16 and BF16 weights only (convert the checkpoint to float32)`);
      }
    }
    const data = new Uint8Array(header.dataBytes); // own ArrayBuffer, offset 0: aligned views possible
    await readExactly(fh, data, header.dataStart, path);
    const tensors = new Map<string, Tensor>();
    const dtypes = new Map<string, string>();
    for (const [name, info] of header.tensors) {
      const [begin, end] = info.dataOffsets;
      tensors.set(name, { shape: info.shape, data: decode(data.subarray(begin, end), info.dtype, numel(info.shape)) });
      dtypes.set(name, info.dtype);
    }
    return { metadata: header.metadata, tensors, dtypes };
  } finally {
    await fh.close();
  }
}

export interface WriteTensor {
  shape: readonly number[];
  data: Float32Array;
}

/** The header bytes (padded) and the tensor order for an all-F32 file, as the Python library lays it out. */
export function encodeHeader(tensors: ReadonlyMap<string, WriteTensor>, metadata: Record<string, string>): { header: Uint8Array; order: string[] } {
  // The Rust serializer sorts by dtype alignment (descending) then name; all F32 here, so by name.
  const order = [...tensors.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const obj: Record<string, unknown> = {};
  if (Object.keys(metadata).length) obj.__metadata__ = metadata;
  let offset = 0;
  for (const name of order) {
    if (name === '__metadata__') throw new InputError('a tensor may not be named "__metadata__"');
    const t = tensors.get(name)!;
    const count = numel(t.shape);
    if (!t.shape.every((s) => Number.isSafeInteger(s) && s >= 0)) throw new Error(`tensor "${name}": bad shape ${JSON.stringify(t.shape)}`);
    if (t.data.length !== count) throw new Error(`tensor "${name}": ${t.data.length} values for shape ${JSON.stringify(t.shape)} (${count})`);
    obj[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  const json = new TextEncoder().encode(JSON.stringify(obj));
  const padded = Math.ceil(json.length / 8) * 8; // 8 + padded is a multiple of 8: the data is aligned
  const header = new Uint8Array(8 + padded).fill(0x20);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  return { header, order };
}

function f32Bytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(4 * i, data[i]!, true);
  return out;
}

/**
 * Writes tensors as F32 to an open file handle (the caller owns atomicity: see checkpoint.ts).
 * metadata defaults to {format: "pt"}, which transformers/safetensors expect for PyTorch weights.
 */
export async function writeSafetensorsTo(fh: FileHandle, tensors: ReadonlyMap<string, WriteTensor>, metadata: Record<string, string> = { format: 'pt' }): Promise<number> {
  const { header, order } = encodeHeader(tensors, metadata);
  let pos = 0;
  const writeAll = async (bytes: Uint8Array) => {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, pos + done);
      done += bytesWritten;
    }
    pos += bytes.length;
  };
  await writeAll(header);
  for (const name of order) await writeAll(f32Bytes(tensors.get(name)!.data));
  return pos;
}

/**
 * Writes a standalone .safetensors file atomically: a temp file in the same directory, fsync, rename.
 * A reader never sees a half-written file at `path`.
 */
export async function writeSafetensors(path: string, tensors: ReadonlyMap<string, WriteTensor>, metadata: Record<string, string> = { format: 'pt' }): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await writeSafetensorsTo(fh, tensors, metadata);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EACCES' || e.code === 'ENOENT' || e.code === 'EROFS' || e.code === 'ENOSPC' || e.code === 'ENOTDIR') {
      throw new InputError(`cannot write ${path}: ${e.code === 'ENOENT' ? 'directory does not exist' : e.message}`);
    }
    throw err;
  }
}
