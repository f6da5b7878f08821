// Shared bits of the genome tests: fixture paths, temp dirs, samtools, and a naive FASTA parser that
// serves as the independent reference (whole file in memory, split on lines; fine for small files).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const fixtures = join(repo, 'fixtures');
export const fx = (p: string) => join(fixtures, p);
export const LAMBDA = fx('lambda_virus.fa');
export const LAMBDA_NAME = 'gi|9626243|ref|NC_001416.1|';
export const VALID_FASTA = ['fasta/multi.fa', 'fasta/crlf.fa', 'fasta/no-trailing-newline.fa', 'fasta/empty-record.fa', 'fasta/duplicate-names.fa', 'lambda_virus.fa'];

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `mamba-dna-${tag}-`));
  made.push(d);
  return d;
}

export function samtools(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('samtools', args, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** name → sequence, first record of a name wins (as samtools), empty records left out. */
export function naiveFasta(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let name: string | undefined;
  let parts: string[] = [];
  const flush = () => {
    if (name !== undefined && parts.length > 0 && !out.has(name)) out.set(name, parts.join(''));
  };
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('>')) {
      flush();
      name = line.slice(1).trim().split(/\s+/)[0];
      parts = [];
    } else if (line !== '') parts.push(line);
  }
  flush();
  return out;
}

export function naiveFastaFile(path: string): Map<string, string> {
  return naiveFasta(readFileSync(path, 'latin1'));
}

/** openGenome, closed when the test ends. */
export async function openForTest(t: { teardown(fn: () => Promise<void>): void }, path: string) {
  const { openGenome } = await import('../../src/genome/open.js');
  const g = await openGenome(path);
  t.teardown(() => g.close());
  return g;
}
