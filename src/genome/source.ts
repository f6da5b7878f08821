// What kind of file a genome path is (plain text, BGZF, plain gzip), and the checks every reader makes
// first: the file exists, is a regular file, is not empty. Each failure is one InputError line with a fix.
import { open, stat } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { bgzfBlockSize } from './bgzf.js';

export type Compression = 'none' | 'bgzf' | 'gzip';

/** The one message for plain gzip, the same from every command. */
export function plainGzipMessage(path: string): string {
  return `${path} is plain gzip, which cannot be read by position; run 'mamba-dna index --bgzip ${path}' to write a BGZF copy with its index`;
}

/** Stats `path` as an input file: InputError when missing, a directory, or empty. Returns its size. */
export async function checkInputFile(path: string, what = 'file'): Promise<number> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputError(`${path}: no such ${what}; check the path`);
    if (code === 'EACCES') throw new InputError(`${path}: permission denied; make the ${what} readable`);
    throw err;
  }
  if (st.isDirectory()) throw new InputError(`${path}: is a directory, expected a ${what}`);
  if (!st.isFile()) throw new InputError(`${path}: not a regular file, expected a ${what}`);
  if (st.size === 0) throw new InputError(`${path}: empty file, expected a ${what}`);
  return st.size;
}

/** Sniffs the first bytes: gzip magic with a 'BC' extra subfield is BGZF, other gzip is plain gzip. */
export async function detectCompression(path: string): Promise<Compression> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const b = head.subarray(0, bytesRead);
    if (b.length < 2 || b[0] !== 0x1f || b[1] !== 0x8b) return 'none';
    return bgzfBlockSize(b) !== undefined ? 'bgzf' : 'gzip';
  } finally {
    await fh.close();
  }
}
