// The .fai FASTA index (samtools faidx, htslib faidx.c): one line per record,
// NAME<TAB>LENGTH<TAB>OFFSET<TAB>LINEBASES<TAB>LINEWIDTH, OFFSET = byte of the first base.
// FaiBuilder computes it from a byte stream exactly as htslib 1.16's fai_build_core does for valid
// input; where htslib accepts something that yields a broken index (whitespace or digits inside
// sequence, an empty name) or fails without saying where, we reject with file:line and the record.
// Empty records and repeated names are skipped with a warning (htslib drops the first silently, keeps
// the first of repeated names with a warning; it rejects an empty *last* record, we skip it too).
import { InputError } from '../errors.js';

export interface FaiRecord {
  name: string;
  /** bases in the record */
  length: number;
  /** byte offset of its first base in the (uncompressed) file */
  offset: number;
  /** bases per full line */
  lineBases: number;
  /** bytes per full line, terminator included */
  lineBytes: number;
}

/** Bytes allowed in sequence lines: letters (IUPAC, soft-masked lowercase), '-' gap and '*' stop. */
export const SEQUENCE_BYTE = new Uint8Array(256);
for (let c = 65; c <= 90; c++) SEQUENCE_BYTE[c] = SEQUENCE_BYTE[c + 32] = 1;
SEQUENCE_BYTE[45] = SEQUENCE_BYTE[42] = 1;

export function isSequenceText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || SEQUENCE_BYTE[c] === 0) return false;
  }
  return true;
}

export function formatFai(records: readonly FaiRecord[]): string {
  return records.map((r) => `${r.name}\t${r.length}\t${r.offset}\t${r.lineBases}\t${r.lineBytes}\n`).join('');
}

/** Parses a .fai strictly: five non-negative integer columns after the name; InputError with path:line. */
export function parseFai(text: string, faiPath: string, fastaPath: string): FaiRecord[] {
  const fix = `rerun 'mamba-dna index ${fastaPath}'`;
  const records: FaiRecord[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    const f = line.split('\t');
    const bad = (why: string) => new InputError(`${faiPath}:${i + 1}: ${why}; ${fix}`);
    if (f.length !== 5) throw bad(`expected 5 tab-separated columns, found ${f.length} (not a FASTA .fai)`);
    const [name, ...nums] = f as [string, ...string[]];
    if (name === '' || name.startsWith('>')) throw bad(`bad sequence name '${name}'`);
    if (!nums.every((x) => /^\d+$/.test(x))) throw bad('columns 2-5 must be whole numbers');
    const [length, offset, lineBases, lineBytes] = nums.map(Number) as [number, number, number, number];
    if (length > 0 && (lineBases === 0 || lineBytes <= lineBases || lineBytes > lineBases + 2)) {
      throw bad(`line width ${lineBytes} does not fit ${lineBases} bases per line`);
    }
    records.push({ name, length, offset, lineBases, lineBytes });
  });
  if (records.length === 0) throw new InputError(`${faiPath}: empty index; ${fix}`);
  return records;
}

/** Byte offset just past the last base of a record. */
export function recordEnd(r: FaiRecord): number {
  if (r.length === 0) return r.offset;
  const last = r.length - 1;
  return r.offset + Math.floor(last / r.lineBases) * r.lineBytes + (last % r.lineBases) + 1;
}

interface Current {
  name: string;
  headerLine: number;
  length: number;
  offset: number;
  lineBases: number;
  lineBytes: number;
  /** line number of a shorter line (or blank, or other line ending): only the last line may be short */
  shortLine: number;
  shortWhy: string;
}

const LF = 10;
const CR = 13;
const GT = 62;
const SPACE = 32;
const TAB = 9;

/**
 * Streaming .fai builder: feed the (uncompressed) FASTA bytes in chunks of any size with push(),
 * then finish(). Holds one record's counters and the names seen, never a whole line.
 */
export class FaiBuilder {
  readonly records: FaiRecord[] = [];
  readonly warnings: string[] = [];
  private readonly seen = new Map<string, number>();
  private cur: Current | undefined;
  private pos = 0; // absolute offset of the next byte
  private line = 1;
  private col = 0; // bytes already seen on this line
  private mode: 'start' | 'header' | 'seq' = 'start';
  // header state
  private nameBytes: number[] = [];
  private nameDone = false;
  // sequence-line state
  private lineStart = 0;
  private lineBases = 0;
  private pendingCR = false;

  constructor(private readonly path: string) {}

  private fail(why: string, fix: string): never {
    const rec = this.cur ? ` (record '${this.cur.name}', header on line ${this.cur.headerLine})` : '';
    throw new InputError(`${this.path}:${this.line}: ${why}${rec}; ${fix}`);
  }

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const c = chunk[i]!;
      if (this.pendingCR && c !== LF) {
        this.fail('carriage return not followed by a line feed (classic Mac line endings?)', "convert the file to LF line endings (e.g. tr '\\r' '\\n')");
      }
      if (this.mode === 'start') {
        if (c === GT) {
          this.finishRecord();
          this.mode = 'header';
          this.nameBytes = [];
          this.nameDone = false;
          this.col = 1;
          continue;
        }
        this.mode = 'seq';
        this.lineStart = this.pos + i;
        this.lineBases = 0;
      }
      if (this.mode === 'header') {
        if (c === LF) {
          this.startRecord();
          this.endLine();
          continue;
        }
        if (c === CR) this.pendingCR = true;
        if (!this.nameDone) {
          const space = c === SPACE || c === TAB || c === CR || (c >= 11 && c <= 12);
          if (space) {
            if (this.nameBytes.length > 0) this.nameDone = true; // leading blanks are skipped, as htslib does
          } else this.nameBytes.push(c);
        }
        this.col++;
        continue;
      }
      // sequence line
      if (c === LF) {
        this.endSeqLine(true);
        this.endLine();
        continue;
      } else if (c === CR) {
        this.pendingCR = true;
      } else if (SEQUENCE_BYTE[c] === 1) {
        this.lineBases++;
      } else {
        if (!this.cur && this.lineBases === 0 && this.col === 0) {
          this.fail("expected a '>' header line", 'a FASTA file starts with a line like ">chr1"');
        }
        const shown = c >= 32 && c < 127 ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
        this.fail(`${shown} at column ${this.col + 1} is not a sequence letter`, 'sequence lines may hold only letters, - and *; fix or remove that line');
      }
      this.col++;
    }
    this.pos += n;
  }

  private endLine(): void {
    this.line++;
    this.col = 0;
    this.mode = 'start';
    this.pendingCR = false;
  }

  private startRecord(): void {
    const name = Buffer.from(this.nameBytes).toString('utf8');
    if (name === '') this.fail('header line has no sequence name', "give the record a name after '>'");
    this.cur = { name, headerLine: this.line, length: 0, offset: 0, lineBases: 0, lineBytes: 0, shortLine: 0, shortWhy: '' };
  }

  /** One sequence line ended (`terminated` false: at end of file without a newline). */
  private endSeqLine(terminated: boolean): void {
    const bases = this.lineBases;
    const bytes = bases + (terminated ? (this.pendingCR ? 2 : 1) : 0);
    const cur = this.cur;
    if (!cur) {
      if (bases === 0) return; // blank lines before the first header are fine
      this.fail("sequence before the first '>' header", 'a FASTA file starts with a line like ">chr1"');
    }
    if (bases === 0) {
      if (!cur.shortLine) {
        cur.shortLine = this.line;
        cur.shortWhy = 'is blank';
      }
      return;
    }
    if (cur.shortLine) {
      this.fail(
        `more sequence after line ${cur.shortLine}, which ${cur.shortWhy}; all lines of a record but the last must have the same length`,
        're-wrap the record to one line length (e.g. seqtk seq -l 60) and remove blank lines inside it',
      );
    }
    if (cur.lineBases === 0) {
      cur.offset = this.lineStart;
      cur.lineBases = bases;
      cur.lineBytes = terminated ? bytes : bases + 1; // htslib assumes '\n' for an unterminated single line
    } else if (bases > cur.lineBases) {
      this.fail(
        `line has ${bases} bases, more than the ${cur.lineBases} of the record's first line`,
        're-wrap the record to one line length (e.g. seqtk seq -l 60)',
      );
    } else if (bases < cur.lineBases) {
      cur.shortLine = this.line;
      cur.shortWhy = `has ${bases} bases, fewer than the record's ${cur.lineBases} per line`;
    } else if (terminated && bytes !== cur.lineBytes) {
      cur.shortLine = this.line;
      cur.shortWhy = `ends with ${bytes === bases + 2 ? 'CRLF' : 'LF'} while earlier lines end with ${bytes === bases + 2 ? 'LF' : 'CRLF'} (mixed line endings)`;
    }
    cur.length += bases;
  }

  private finishRecord(): void {
    const cur = this.cur;
    if (!cur) return;
    this.cur = undefined;
    const where = `${this.path}:${cur.headerLine}`;
    if (cur.length === 0) {
      this.warnings.push(`${where}: record '${cur.name}' has no sequence; left out of the index`);
      return;
    }
    const first = this.seen.get(cur.name);
    if (first !== undefined) {
      this.warnings.push(`${where}: sequence name '${cur.name}' repeats the record on line ${first}; the later record is left out of the index, as samtools does`);
      return;
    }
    this.seen.set(cur.name, cur.headerLine);
    this.records.push({ name: cur.name, length: cur.length, offset: cur.offset, lineBases: cur.lineBases, lineBytes: cur.lineBytes });
  }

  /** Ends the stream; returns the records in file order. */
  finish(): FaiRecord[] {
    if (this.mode === 'header') this.startRecord();
    else if (this.mode === 'seq') {
      if (this.pendingCR) this.fail('file ends with a carriage return without a line feed', 'end the file with a newline');
      this.endSeqLine(false);
    }
    this.finishRecord();
    if (this.records.length === 0) {
      throw new InputError(`${this.path}: no sequences found (not a FASTA file, or every record is empty)`);
    }
    return this.records;
  }
}
