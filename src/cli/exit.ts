/** Exit codes a shell user expects, and the one way the CLI reports a failure on stderr. */

import { CommanderError } from 'commander';
import { isAsrTrainerError } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** 128 + SIGINT, what shells report for a command ended by Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

/** Bad command-line input found after commander's own parsing (a value out of range, a missing file). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Prints `error: <message> (<code>)` and returns the exit code the error maps to. */
export function reportError(err: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  if (err instanceof CommanderError) {
    // Commander has printed its own message (and --help output exits through here with code 0).
    return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (err instanceof UsageError) {
    stderr.write(`error: ${err.message}\n(see --help)\n`);
    return EXIT_USAGE;
  }
  if (isAsrTrainerError(err)) {
    stderr.write(`error: ${err.message} (${err.code})\n`);
    return err.code === 'E_INVALID_ARGUMENT' ? EXIT_USAGE : EXIT_FAILURE;
  }
  const message = err instanceof Error ? err.message : String(err);
  stderr.write(`error: ${message}\n`);
  if (process.env.ASR_DEBUG && err instanceof Error && err.stack) stderr.write(`${err.stack}\n`);
  return EXIT_FAILURE;
}
