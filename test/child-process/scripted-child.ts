/**
 * A child for test/child-process/addon-child.test.ts: it does what each message says, through the child's
 * side of src/child-process/ as a real kind's child does.
 */
import { writeSync } from 'node:fs';
import { errorMessage, parentChannel, type ErrorMessage, type ErrorReport } from '../../src/child-process/index.js';
import { AsrTrainerError, type AsrErrorCode } from '../../src/errors.js';

export type ToScripted =
  | { cmd: 'throw'; code: AsrErrorCode; message: string; details?: Record<string, unknown> }
  | { cmd: 'throw-plain'; message: string }
  /** Sends `error` as it is, whatever its code. */
  | { cmd: 'report'; error: ErrorReport }
  /** Prints the lines, answers 'printed', then exits with `exitCode` (null: stays until killed). */
  | { cmd: 'print'; stdout: string[]; stderr: string[]; exitCode: number | null }
  /** Answers the environment variables asked for and writes `text` to descriptor 4. */
  | { cmd: 'inspect'; names: string[]; text: string };

export type FromScripted =
  ErrorMessage | { kind: 'printed' } | { kind: 'inspected'; env: Record<string, string | undefined> };

const parent = parentChannel<ToScripted, FromScripted>();

function write(stream: NodeJS.WriteStream, lines: string[]): Promise<void> {
  // The callback runs once the text is with the pipe, so a kill after 'printed' cannot lose it.
  return new Promise((resolve) => stream.write(lines.map((line) => `${line}\n`).join(''), () => resolve()));
}

async function obey(message: ToScripted): Promise<void> {
  if (message.cmd === 'throw') {
    await parent.send(errorMessage(new AsrTrainerError(message.code, message.message, message.details)));
  } else if (message.cmd === 'throw-plain') {
    await parent.send(errorMessage(new Error(message.message)));
  } else if (message.cmd === 'report') {
    await parent.send({ kind: 'error', error: message.error });
  } else if (message.cmd === 'print') {
    await write(process.stdout, message.stdout);
    await write(process.stderr, message.stderr);
    await parent.send({ kind: 'printed' });
    if (message.exitCode !== null) {
      process.exitCode = message.exitCode;
      process.disconnect();
    }
  } else {
    writeSync(4, message.text);
    await parent.send({ kind: 'inspected', env: Object.fromEntries(message.names.map((n) => [n, process.env[n]])) });
  }
}

parent.onMessage((message) => void obey(message));
