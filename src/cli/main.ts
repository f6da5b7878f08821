// The CLI entry point: builds the commander program, runs one command, maps errors to exit codes.
// This is the only place that turns an exception into stderr text and a process exit code.
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { DeviceError, EXIT, InputError, UsageError } from '../errors.js';
import { StdoutClosed } from './io.js';
import { commands } from './commands/index.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  return String(pkg.version);
}

export function buildProgram(): Command {
  const program = new Command('mamba-dna')
    .description('Mamba (selective state space) language models on DNA: index and read genomes, tokenize, pretrain, embed, classify.')
    .version(packageVersion(), '-V, --version')
    .option('--debug', 'on error, print the stack trace too')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of commands) register(program);
  for (const cmd of program.commands) cmd.exitOverride().showHelpAfterError('(run with --help for usage)');
  return program;
}

/** Message and exit code for anything thrown by a command. */
export function describeError(err: unknown): { code: number; message: string } {
  if (err instanceof UsageError) return { code: EXIT.usage, message: err.message };
  if (err instanceof InputError) return { code: EXIT.input, message: err.message };
  if (err instanceof DeviceError) return { code: EXIT.device, message: err.message };
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.path === 'string') {
    // An fs error that escaped a library's own checks: still one line naming the file.
    const what: Record<string, string> = {
      ENOENT: 'no such file or directory',
      EACCES: 'permission denied',
      EISDIR: 'is a directory, expected a file',
      ENOTDIR: 'a path component is not a directory',
      ENOSPC: 'no space left on device',
      EROFS: 'read-only file system',
    };
    return { code: EXIT.input, message: `${e.path}: ${what[e.code] ?? e.message}` };
  }
  return { code: EXIT.internal, message: `internal error: ${e?.message ?? String(err)} (rerun with --debug for the stack trace and report it)` };
}

export async function main(argv: string[]): Promise<void> {
  const debug = argv.includes('--debug');
  let code: number = EXIT.ok;
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed its message (or the help/version text)
      code = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else if (err instanceof StdoutClosed) {
      code = EXIT.ok;
    } else {
      const { code: c, message } = describeError(err);
      code = c;
      process.stderr.write(`mamba-dna: ${message}\n`);
      if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    }
  }
  process.exitCode = code;
}
