// A region's token ids, fetched and encoded a chunk at a time so that a chromosome-long region never
// sits in memory: the one place embed and eval read model input from a genome.
import type { Genome, Region } from '../genome/types.js';
import { encode } from '../tokenizer/encode.js';
import { reverseComplementIds } from '../tokenizer/reverse-complement.js';

export interface RegionChunk {
  /** token ids of this chunk (a view into a buffer reused by the next chunk: copy to keep) */
  ids: Uint8Array;
  /** index of the chunk's first token within the region's token stream (0 = first token fed) */
  offset: number;
}

/**
 * Yields the region's tokens in chunks of at most `chunk`. With `reverseComplement`, yields the
 * reverse complement of the region (its chunks from the end, each reverse-complemented), which is the
 * sequence a model reading the minus strand 5'→3' sees.
 */
export async function* regionChunks(genome: Genome, region: Region, chunk: number, reverseComplement = false): AsyncGenerator<RegionChunk> {
  const len = region.end - region.start;
  const buf = new Uint8Array(chunk);
  const rcBuf = reverseComplement ? new Uint8Array(chunk) : buf;
  for (let done = 0; done < len; done += chunk) {
    const n = Math.min(chunk, len - done);
    const start = reverseComplement ? region.end - done - n : region.start + done;
    const ids = encode(await genome.fetch(region.name, start, start + n), buf, { name: region.name, offset: start });
    yield { ids: reverseComplement ? reverseComplementIds(ids, rcBuf.subarray(0, n)) : ids, offset: done };
  }
}
