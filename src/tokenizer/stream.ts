// Regions of a genome → lines of token ids (or normalised bases), streamed chunk by chunk so a
// whole chromosome never sits in memory as text. Used by `mamba-dna tokenize`.
import type { Genome, Region } from '../genome/types.js';
import { encode } from './encode.js';
import { reverseComplementIds } from './reverse-complement.js';
import { VOCAB } from './vocab.js';

/** Where the text goes (src/cli/io.ts's stdoutSink in the CLI, an array in tests). */
export interface TextSink {
  write(chunk: string | Uint8Array): Promise<void>;
}

export interface TokenizeOptions {
  /** 'ids': space-separated token ids; 'bases': the tokens as letters (uppercase, IUPAC → N) */
  format: 'ids' | 'bases';
  /** tokenize the reverse complement of each region */
  reverseComplement?: boolean;
  /** start each line with `name:start-end` (1-based inclusive, `(-)` when reverse-complemented) and a tab */
  names?: boolean;
  /** bases fetched per read; default 1 Mi */
  chunkBases?: number;
}

/** Decimal text of each id, as bytes. */
const ID_TEXT: Uint8Array[] = VOCAB.map((_, id) => Buffer.from(String(id), 'latin1'));
const BASE_BYTE: Uint8Array = Uint8Array.from(VOCAB, (tok) => (tok.length === 1 ? tok.charCodeAt(0) : 0x3f));

/** ids → "7 8 9" bytes; `lead` puts a space before the first id (continuing a line). */
function idsText(ids: Uint8Array, lead: boolean): Buffer {
  const out = Buffer.allocUnsafe(ids.length * 3);
  let p = 0;
  for (let i = 0; i < ids.length; i++) {
    if (i > 0 || lead) out[p++] = 0x20;
    const t = ID_TEXT[ids[i]];
    out[p++] = t[0];
    if (t.length > 1) out[p++] = t[1];
  }
  return out.subarray(0, p);
}

function basesText(ids: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = BASE_BYTE[ids[i]];
  return out;
}

/** Writes one line per region; returns how many bases were tokenized. */
export async function writeTokenized(genome: Genome, regions: readonly Region[], sink: TextSink, options: TokenizeOptions): Promise<number> {
  const chunk = options.chunkBases ?? 1 << 20;
  const rc = options.reverseComplement ?? false;
  const ids = new Uint8Array(chunk);
  let total = 0;
  for (const r of regions) {
    if (options.names) await sink.write(`${r.name}:${r.start + 1}-${r.end}${rc ? '(-)' : ''}\t`);
    let first = true;
    // Reverse complement of the region = its chunks from the end, each reverse-complemented.
    for (let done = 0; done < r.end - r.start; done += chunk) {
      const n = Math.min(chunk, r.end - r.start - done);
      const start = rc ? r.end - done - n : r.start + done;
      const part = encode(await genome.fetch(r.name, start, start + n), ids, { name: r.name, offset: start });
      if (rc) reverseComplementIds(part, part);
      await sink.write(options.format === 'ids' ? idsText(part, !first) : basesText(part));
      first = false;
      total += n;
    }
    await sink.write('\n');
  }
  return total;
}
