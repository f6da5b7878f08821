// A checkpoint directory as mamba_ssm / Hugging Face lay one out:
//   DIR/config.json        mamba_ssm MambaConfig fields (src/model/config.ts)
//   DIR/model.safetensors  F32 tensors under MambaLMHeadModel's state-dict names (src/model/weights.ts)
// A tied head is stored once, as backbone.embedding.weight — what safetensors.torch.save_model writes
// for this model (shared tensors are de-duplicated, keeping the first name in sort order). PyTorch
// loads it with `safetensors.torch.load_model(model, path)`, or with
// `model.load_state_dict(load_file(path), strict=False)` whose only missing key is lm_head.weight
// (the same Parameter as the embedding). A file that does carry lm_head.weight is accepted when it
// equals the embedding.
//
// Saving is crash-safe: both files are written and fsynced in a staging directory beside DIR, then
//   - DIR absent (or empty): the staging directory is renamed to DIR, one atomic step;
//   - DIR present: model.safetensors then config.json are renamed into it, each atomic.
// An interruption between those two renames leaves new weights beside the old config.json. The
// weights file records the config it was written for (metadata "mamba_dna.config"), so that state
// loads fine when the weight layout did not change (the usual re-save during training) and is
// refused with an explanation when it did.
import { chmod, mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import type { MambaConfig } from '../model/config.js';
import { configFromJson, configFromJsonText, configToJson, configToJsonText, dims } from '../model/config.js';
import type { MambaWeights } from '../model/weights.js';
import { tensorSpecs, weightsProblem } from '../model/weights.js';
import type { WriteTensor } from './safetensors.js';
import { readSafetensors, writeSafetensorsTo } from './safetensors.js';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
/** safetensors metadata key holding the compact config.json the weights were written for */
export const CONFIG_METADATA_KEY = 'mamba_dna.config';
const RESERVED_METADATA = new Set(['format', CONFIG_METADATA_KEY]);

export interface SaveExtra {
  /** extra string metadata stored in model.safetensors' __metadata__ (e.g. step, tokens seen) */
  metadata?: Record<string, string>;
  /** fault injection for tests: replaces fs.rename for the final moves */
  rename?: (from: string, to: string) => Promise<void>;
}

export interface LoadedCheckpoint {
  config: MambaConfig;
  weights: MambaWeights;
  /** model.safetensors' __metadata__ */
  metadata: Record<string, string>;
  /** tensors in the file that this config does not use (PyTorch strict loading would refuse them) */
  unexpected: string[];
  /** non-fatal notes (e.g. F16 weights widened) for the caller to log */
  notes: string[];
}

function ioError(what: string, path: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only file system',
    ENOSPC: 'no space left on device', ENOTDIR: 'a path component is not a directory', EEXIST: 'already exists',
    ENOENT: 'no such file or directory', EISDIR: 'is a directory',
  };
  if (e && typeof e.code === 'string' && why[e.code]) return new InputError(`${what} ${path}: ${why[e.code]}`);
  return err as Error;
}

/** Writes bytes to a new file and fsyncs it before closing. */
async function writeDurable(path: string, body: (fh: import('node:fs/promises').FileHandle) => Promise<unknown>): Promise<void> {
  const fh = await open(path, 'wx', 0o644);
  try {
    await body(fh);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync a directory so renames inside it survive a power loss (best effort: not all filesystems allow it). */
export async function syncDir(path: string): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'r');
    await fh.sync();
  } catch {
    // some filesystems refuse fsync on a directory; the rename is still atomic
  } finally {
    await fh?.close();
  }
}

/** The weights as a name → tensor map in mamba_ssm's names. */
export function weightsToTensors(config: MambaConfig, weights: MambaWeights): Map<string, WriteTensor> {
  const problem = weightsProblem(config, weights);
  if (problem) throw new Error(`weights do not match the config: ${problem}`);
  const out = new Map<string, WriteTensor>();
  for (const s of tensorSpecs(config)) out.set(s.name, { shape: s.shape, data: s.get(weights)! });
  return out;
}

/**
 * Saves config.json + model.safetensors into dir (created if needed), crash-safely (see the file
 * header). Files of other names in dir are left alone.
 */
export async function saveCheckpoint(dir: string, config: MambaConfig, weights: MambaWeights, extra: SaveExtra = {}): Promise<void> {
  const tensors = weightsToTensors(config, weights);
  const metadata: Record<string, string> = { format: 'pt', [CONFIG_METADATA_KEY]: JSON.stringify(configToJson(config)) };
  for (const [k, v] of Object.entries(extra.metadata ?? {})) {
    if (RESERVED_METADATA.has(k)) throw new Error(`metadata key "${k}" is reserved`);
    metadata[k] = v;
  }
  const doRename = extra.rename ?? rename;
  const target = resolve(dir);
  const parent = dirname(target);

  let existing: 'absent' | 'empty' | 'full' = 'absent';
  try {
    const st = await stat(target);
    if (!st.isDirectory()) throw new InputError(`cannot save checkpoint to ${dir}: it exists and is not a directory`);
    existing = (await readdir(target)).length === 0 ? 'empty' : 'full';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('cannot save checkpoint to', dir, err);
  }
  try {
    await mkdir(parent, { recursive: true });
  } catch (err) {
    throw ioError('cannot create directory', parent, err);
  }

  let stage: string;
  try {
    stage = await mkdtemp(join(parent, `.${basename(target)}.saving-`));
    await chmod(stage, 0o755); // mkdtemp makes it 0700; it becomes DIR
  } catch (err) {
    throw ioError('cannot save checkpoint in', parent, err);
  }
  let moved = false;
  try {
    await writeDurable(join(stage, WEIGHTS_FILE), (fh) => writeSafetensorsTo(fh, tensors, metadata));
    await writeDurable(join(stage, CONFIG_FILE), (fh) => fh.writeFile(configToJsonText(config)));
    await syncDir(stage);
    if (existing === 'full') {
      // weights first: a crash before config.json is replaced is detected at load (CONFIG_METADATA_KEY)
      await doRename(join(stage, WEIGHTS_FILE), join(target, WEIGHTS_FILE));
      await doRename(join(stage, CONFIG_FILE), join(target, CONFIG_FILE));
      await syncDir(target);
    } else {
      // rename(2) replaces an empty directory atomically
      await doRename(stage, target);
      moved = true;
      await syncDir(parent);
    }
  } catch (err) {
    throw ioError('cannot save checkpoint to', dir, err);
  } finally {
    if (!moved) await rm(stage, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** What decides the tensors' shapes and meaning; flags like fused_add_norm may be edited freely. */
function weightLayoutKey(c: MambaConfig): string {
  return JSON.stringify([dims(c), c.rmsNorm, c.tieEmbeddings]);
}

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Loads and validates a checkpoint directory; InputError names the file and the first problem. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const configPath = join(dir, CONFIG_FILE);
  const weightsPath = join(dir, WEIGHTS_FILE);
  let st;
  try {
    st = await stat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new InputError(`checkpoint ${dir}: no such directory (create one with \`mamba-dna init --out ${dir}\`)`);
    throw ioError('cannot read checkpoint', dir, err);
  }
  if (!st.isDirectory()) throw new InputError(`checkpoint ${dir}: not a directory (a checkpoint is a directory holding ${CONFIG_FILE} and ${WEIGHTS_FILE})`);

  let configText: string;
  try {
    configText = await readFile(configPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new InputError(`${configPath}: missing; a checkpoint directory holds ${CONFIG_FILE} and ${WEIGHTS_FILE}`);
    throw ioError('cannot read', configPath, err);
  }
  const config = configFromJsonText(configText, configPath);

  try {
    await stat(weightsPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      const names = await readdir(dir).catch(() => [] as string[]);
      const hint = names.includes('pytorch_model.bin')
        ? ` (found pytorch_model.bin: convert it in Python with safetensors.torch.save_model(model, "${weightsPath}"))`
        : '';
      throw new InputError(`${weightsPath}: missing${hint}`);
    }
    throw ioError('cannot read', weightsPath, err);
  }
  const file = await readSafetensors(weightsPath);

  const recorded = file.metadata[CONFIG_METADATA_KEY];
  if (recorded !== undefined) {
    let same = false;
    try {
      same = weightLayoutKey(configFromJson(JSON.parse(recorded))) === weightLayoutKey(config);
    } catch {
      same = false;
    }
    if (!same) {
      throw new InputError(
        `${weightsPath} was written for a different configuration than ${configPath} ` +
          `(an interrupted save replaced the weights but not the config?): its __metadata__ "${CONFIG_METADATA_KEY}" is ${recorded}; ` +
          'write that text to config.json if these weights are the ones you want, or save the checkpoint again',
      );
    }
  }

  const weights = { layers: [] } as unknown as MambaWeights;
  const problems: string[] = [];
  const expected = new Set<string>();
  for (const spec of tensorSpecs(config)) {
    expected.add(spec.name);
    const t = file.tensors.get(spec.name);
    if (!t) {
      problems.push(`tensor "${spec.name}" ${shapeText(spec.shape)} is missing`);
      continue;
    }
    if (t.shape.length !== spec.shape.length || t.shape.some((v, i) => v !== spec.shape[i])) {
      problems.push(`tensor "${spec.name}" has shape ${shapeText(t.shape)}, expected ${shapeText(spec.shape)} from ${CONFIG_FILE}`);
      continue;
    }
    spec.set(weights, t.data);
  }
  const unexpected: string[] = [];
  for (const name of file.tensors.keys()) {
    if (expected.has(name)) continue;
    if (name === 'lm_head.weight' && config.tieEmbeddings) {
      // a torch.save-style duplicate of the tied head: accepted only if it is the embedding
      const head = file.tensors.get(name)!;
      const emb = file.tensors.get('backbone.embedding.weight');
      const same = emb && head.data.length === emb.data.length && head.data.every((v, i) => Object.is(v, emb.data[i]));
      if (!same) problems.push(`tensor "lm_head.weight" differs from "backbone.embedding.weight" but ${CONFIG_FILE} has tie_embeddings true (set it to false to keep a separate head)`);
      continue;
    }
    unexpected.push(name);
  }
  if (problems.length) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    throw new InputError(`${weightsPath}: ${problems[0]}${more}; the weights do not match ${configPath}`);
  }
  const notes: string[] = [];
  const widened = [...file.dtypes.values()].filter((d) => d !== 'F32');
  if (widened.length) notes.push(`${weightsPath}: ${widened.length} tensor(s) stored as ${[...new Set(widened)].join('/')} were widened to float32`);
  if (unexpected.length) notes.push(`${weightsPath}: ${unexpected.length} unexpected tensor(s) ignored: ${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? ', …' : ''}`);
  return { config, weights, metadata: file.metadata, unexpected, notes };
}
