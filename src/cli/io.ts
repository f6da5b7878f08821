// stdout carries data only; logs and progress go to stderr. A closed stdout (`| head`) ends quietly.
export class StdoutClosed extends Error {
  override name = 'StdoutClosed';
}

let closed = false;
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') closed = true;
  else throw err;
});

/** Writes to stdout, waiting for drain (back-pressure); throws StdoutClosed once the reader has gone. */
export async function writeOut(chunk: string | Uint8Array): Promise<void> {
  if (closed) throw new StdoutClosed('stdout closed');
  if (!process.stdout.write(chunk)) {
    // Wait for 'drain', or for the EPIPE that says the reader has gone (events.once would reject on it).
    await new Promise<void>((resolve) => {
      const done = () => {
        process.stdout.off('drain', done);
        process.stdout.off('error', done);
        resolve();
      };
      process.stdout.on('drain', done);
      process.stdout.on('error', done);
    });
    if (closed) throw new StdoutClosed('stdout closed');
  }
}

/** A line-oriented sink for library code that must not touch `process`. */
export interface Sink {
  write(chunk: string | Uint8Array): Promise<void>;
}
export const stdoutSink: Sink = { write: writeOut };

export function logLine(message: string): void {
  process.stderr.write(`${message}\n`);
}
