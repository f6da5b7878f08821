// Typed errors. Library code throws these; src/cli/main.ts maps them to one stderr line and an exit code.
// The message is what the user reads: name the file/record/position and say how to fix it.

/** The command line itself is wrong (unknown flag value, missing option, bad region syntax). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An input file or its contents is wrong or missing (FASTA, .fai, BED, checkpoint). */
export class InputError extends Error {
  override name = 'InputError';
}

/** A compute device could not be initialised or failed while running. */
export class DeviceError extends Error {
  override name = 'DeviceError';
}

/** Exit codes, documented in docs/cli.md. */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  input: 3,
  device: 4,
  interrupted: 130,
} as const;
