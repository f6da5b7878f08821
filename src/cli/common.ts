// Options and set-up shared by the commands that run a model: --device, --threads, --chunk, the
// region flags, loading a checkpoint onto a backend, and a progress bar on stderr when it is a TTY.
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { DEVICE_CHOICES, createBackend, parseDevice, shutdownGpu } from '../backend/registry.js';
import type { Backend } from '../backend/types.js';
import { loadCheckpoint } from '../checkpoint/checkpoint.js';
import { InputError, UsageError } from '../errors.js';
import { openGenome } from '../genome/open.js';
import type { Genome, Region } from '../genome/types.js';
import { MambaModel } from '../model/mamba.js';
import { resolveRegions } from './region-args.js';

export function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} must be a positive integer, got '${v}'`);
    return n;
  };
}

export const nonNegativeInt = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new UsageError(`${name} must be a non-negative integer, got '${v}'`);
  return n;
};
export const positiveNumber = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name} must be a positive number, got '${v}'`);
  return n;
};
export const fraction = (name: string, closed = false) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (closed ? n > 1 : n >= 1)) throw new UsageError(`${name} must be a number in [0, 1${closed ? ']' : ')'}, got '${v}'`);
  return n;
};

export function collect(v: string, acc: string[] | undefined): string[] {
  return [...(acc ?? []), v];
}

export interface DeviceFlags {
  device: string;
  threads?: number;
  chunk?: number;
}

export function addDeviceOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--device <device>', 'compute device: auto takes a hardware WebGPU adapter, else cpu').choices([...DEVICE_CHOICES]).default('auto'))
    .option('--threads <n>', 'cpu device: worker threads (default: all cores)', positiveInt('--threads'))
    .option('--chunk <tokens>', 'tokens per forward chunk: sets peak memory, not the result (default: 4096 on cpu/wasm, 65536 on webgpu)', positiveInt('--chunk'));
}

export function chunkFor(backend: Backend, flags: DeviceFlags): number {
  return flags.chunk ?? (backend.name === 'webgpu' ? 65536 : 4096);
}

/** Loads a checkpoint directory onto the chosen device. */
export async function loadModel(dir: string, flags: DeviceFlags): Promise<MambaModel> {
  const ckpt = await loadCheckpoint(dir);
  const backend = await createBackend(parseDevice(flags.device), { threads: flags.threads });
  try {
    return await MambaModel.load(backend, ckpt.config, ckpt.weights);
  } catch (err) {
    await backend.dispose();
    throw err;
  }
}

export async function closeModel(model: MambaModel | undefined): Promise<void> {
  if (model) {
    model.dispose();
    await model.backend.dispose();
  }
  await shutdownGpu();
}

export interface RegionFlags {
  region?: string[];
  regions?: string;
  split?: string;
}

export function addRegionOptions(cmd: Command): Command {
  return cmd
    .option('-r, --region <region>', 'NAME, NAME:START-END or NAME:START- (1-based inclusive, samtools style); repeatable', collect)
    .option('--regions <bed>', 'BED file of regions (0-based half-open; 4th column may be a split: train/valid/test)')
    .option('--split <label>', 'with --regions: only rows whose 4th column is this label');
}

export async function regionsFrom(genome: Genome, flags: RegionFlags): Promise<Region[]> {
  if (flags.split !== undefined && flags.regions === undefined) throw new UsageError('--split needs --regions BED');
  const bed = flags.regions === undefined ? undefined : flags.split === undefined ? { path: flags.regions } : { path: flags.regions, split: flags.split };
  const regions = await resolveRegions(genome, flags.region ?? [], bed);
  if (regions.length === 0) throw new UsageError(flags.split ? `no regions with split '${flags.split}' in ${flags.regions}` : 'no regions selected');
  return regions;
}

export { openGenome };

/** A token progress bar on stderr when it is a terminal; nothing otherwise (stdout stays data only). */
export function tokenProgress(total: number, label: string): { tick: (n: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { tick: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {percentage}% | {value}/{total} bases | {speed} bases/s | ETA {eta_formatted}`, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  const start = Date.now();
  let done = 0;
  bar.start(total, 0, { speed: 0 });
  return {
    tick: (n) => {
      done += n;
      bar.update(done, { speed: Math.round(done / Math.max(1e-3, (Date.now() - start) / 1000)) });
    },
    stop: () => bar.stop(),
  };
}

/**
 * Ctrl-C for long jobs: the first SIGINT aborts the returned signal (the job saves a checkpoint after
 * its current step and returns); a second one exits at once with 130. Call `release` when done.
 */
export function interruptOnSigint(label: string, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) {
      process.stderr.write(`\n${label}: second interrupt: exiting now (the last saved checkpoint is intact)\n`);
      process.exit(130);
    }
    controller.abort();
    log(`${label}: interrupt: saving a checkpoint after the current step (Ctrl-C again to quit at once)`);
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, release: () => process.off('SIGINT', onSigint) };
}

/** Why a filesystem call failed, in words. */
export function ioWhy(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const why: Record<string, string> = { EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only file system', ENOTDIR: 'a path component is not a directory', ENOSPC: 'no space left on device', EEXIST: 'a path component is a file' };
  return why[code ?? ''] ?? code ?? (err as Error).message;
}

/** A new or empty run directory, created and checked writable; an existing run points at --resume. */
export async function prepareOutDir(out: string): Promise<void> {
  try {
    const st = await stat(out);
    if (!st.isDirectory()) throw new InputError(`--out ${out}: exists and is not a directory; choose a new directory`);
    const names = await readdir(out);
    if (names.includes('checkpoints')) throw new InputError(`--out ${out}: already holds a run; continue it with --resume ${out}, or choose a new directory`);
    if (names.length > 0) throw new InputError(`--out ${out}: directory is not empty; choose a new or empty directory`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof InputError) throw err;
      throw new InputError(`--out ${out}: cannot use it as the run directory (${ioWhy(err)}); choose a writable location`);
    }
  }
  try {
    await mkdir(out, { recursive: true });
    await writeFile(join(out, '.write-test'), '');
    await rm(join(out, '.write-test'));
  } catch (err) {
    throw new InputError(`--out ${out}: cannot create or write the run directory (${ioWhy(err)}); choose a writable location`);
  }
}
