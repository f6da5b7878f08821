// NumPy .npy format, version 1.0: magic "\x93NUMPY", version bytes, a little-endian u16 header
// length, then a Python-literal dict padded with spaces to a multiple of 64 bytes and ending in
// '\n', then the raw C-order data. We write float32 ('<f4') and know the shape before the data, so
// rows can stream after the header.
export function npyHeader(shape: readonly number[], descr = '<f4'): Buffer {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${dims}, }`;
  const preamble = 10; // magic (6) + version (2) + header length (2)
  const total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  const headerLen = total - preamble;
  if (headerLen > 0xffff) throw new RangeError('npy header too long for format version 1.0');
  const buf = Buffer.alloc(total, 0x20);
  buf.write('\x93NUMPY', 0, 'latin1');
  buf[6] = 1;
  buf[7] = 0;
  buf.writeUInt16LE(headerLen, 8);
  buf.write(dict, preamble, 'latin1');
  buf[total - 1] = 0x0a;
  return buf;
}

/** Float32 rows as little-endian bytes (a copy: the caller's buffer may be reused). */
export function float32Bytes(a: Float32Array): Buffer {
  const out = Buffer.allocUnsafe(a.byteLength);
  new Float32Array(out.buffer, out.byteOffset, a.length).set(a);
  return out;
}
