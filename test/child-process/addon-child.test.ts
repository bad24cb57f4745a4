/**
 * src/child-process/ with real child processes (./scripted-child.ts, forked as every kind's child is): an
 * error crosses with its code and details, an ended process is described by its signal or its code with
 * the tail of its stderr, and the child starts with the addon's environment and the descriptors given.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AddonChild,
  describeExit,
  reportedError,
  type AddonChildOptions,
  type ChildExit,
} from '../../src/child-process/index.js';
import { AsrTrainerError } from '../../src/errors.js';
import type { FromScripted, ToScripted } from './scripted-child.js';

interface Scripted {
  child: AddonChild<ToScripted, FromScripted>;
  /** Every non-blank line the child printed, as `stream: line`. */
  lines: string[];
  /** Sends `message` and resolves with the child's next message. */
  ask(message: ToScripted): Promise<FromScripted>;
  closed: Promise<ChildExit>;
}

const started: Scripted[] = [];

afterEach(async () => {
  for (const { child } of started.splice(0)) {
    child.kill('SIGKILL');
    await child.ended;
  }
});

function startScripted(
  options: Pick<AddonChildOptions<FromScripted>, 'tailLines' | 'tailStdout'> = {},
  fds: number[] = [],
  env: NodeJS.ProcessEnv = {},
): Scripted {
  const lines: string[] = [];
  let answer: ((message: FromScripted) => void) | null = null;
  let closed: (exit: ChildExit) => void = () => undefined;
  const child = AddonChild.fork<ToScripted, FromScripted>(
    { callerUrl: import.meta.url, name: 'scripted-child', env: { ...process.env, ...env }, fds },
    {
      ...options,
      onLine: (stream, line) => lines.push(`${stream}: ${line}`),
      onMessage: (message) => answer?.(message),
      onClose: (exit) => closed(exit),
    },
  );
  const scripted: Scripted = {
    child,
    lines,
    ask: (message) =>
      new Promise((resolve) => {
        answer = resolve;
        child.send(message);
      }),
    closed: new Promise((resolve) => (closed = resolve)),
  };
  started.push(scripted);
  return scripted;
}

function errorOf(message: FromScripted): AsrTrainerError {
  if (message.kind !== 'error') throw new Error(`expected an error message, got ${message.kind}`);
  return reportedError(message.error);
}

describe('an error reported by a child process', () => {
  it('arrives as an AsrTrainerError with its code, message and details intact', async () => {
    const details = { path: '/ckpt/a.pt', expected: [80, 144], nested: { sha256: 'ab12', ok: false } };
    const { ask } = startScripted();
    const error = errorOf(await ask({ cmd: 'throw', code: 'E_CHECKPOINT_CORRUPT', message: 'bad file', details }));
    expect(error).toBeInstanceOf(AsrTrainerError);
    expect(error.code).toBe('E_CHECKPOINT_CORRUPT');
    expect(error.message).toBe('bad file');
    expect(error.details).toEqual(details);
  });

  it('is E_INTERNAL with its message when the child threw a plain Error', async () => {
    const { ask } = startScripted();
    const error = errorOf(await ask({ cmd: 'throw-plain', message: 'out of cheese' }));
    expect(error.code).toBe('E_INTERNAL');
    expect(error.message).toBe('out of cheese');
    expect(error.details).toBeUndefined();
  });

  it('with a code the parent does not know is E_INTERNAL, the reported code kept in its details', async () => {
    const { ask } = startScripted();
    const error = errorOf(
      await ask({ cmd: 'report', error: { code: 'E_FROM_THE_FUTURE', message: 'new', details: { a: 1 } } }),
    );
    expect(error.code).toBe('E_INTERNAL');
    expect(error.message).toBe('new');
    expect(error.details).toEqual({ a: 1, reported_code: 'E_FROM_THE_FUTURE' });
  });
});

describe('how a child process ended', () => {
  it('a code: "exited with code 3", with the last 10 non-blank stderr lines and none of stdout', async () => {
    const scripted = startScripted();
    const stderr = Array.from({ length: 15 }, (_, i) => `err ${i + 1}`);
    await scripted.ask({ cmd: 'print', stdout: ['out 1', 'out 2'], stderr: [...stderr, '', '  '], exitCode: 3 });
    const exit = await scripted.closed;
    expect(exit).toEqual({ code: 3, signal: null });
    expect(describeExit(exit)).toBe('exited with code 3');
    const error = scripted.child.deathError('E_INTERNAL', `The scripted process ${describeExit(exit)}`);
    expect(error.message).toBe('The scripted process exited with code 3');
    expect(error.details).toEqual({ signal: null, exit_code: 3, last_logs: stderr.slice(-10) });
    // Each stream in order (the two pipes are read in no fixed order between them).
    expect(scripted.lines.filter((l) => l.startsWith('stdout: '))).toEqual(['stdout: out 1', 'stdout: out 2']);
    expect(scripted.lines.filter((l) => l.startsWith('stderr: '))).toEqual(stderr.map((l) => `stderr: ${l}`));
  });

  it('a signal: "was killed by SIGKILL", with what it printed on stderr before', async () => {
    const scripted = startScripted();
    await scripted.ask({ cmd: 'print', stdout: [], stderr: ['terminate called after throwing'], exitCode: null });
    scripted.child.kill('SIGKILL');
    const exit = await scripted.closed;
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(describeExit(exit)).toBe('was killed by SIGKILL');
    expect(scripted.child.deathError('E_TRANSCRIBER_CRASHED', 'crashed')).toMatchObject({
      code: 'E_TRANSCRIBER_CRASHED',
      details: { signal: 'SIGKILL', exit_code: null, last_logs: ['terminate called after throwing'] },
    });
  });

  it('keeps stdout in the tail when asked, and lines remembered beside them, up to tailLines', async () => {
    const scripted = startScripted({ tailLines: 3, tailStdout: true });
    await scripted.ask({ cmd: 'print', stdout: ['a', 'b', 'c', 'd'], stderr: [], exitCode: 0 });
    await scripted.closed;
    scripted.child.remember('reported');
    expect(scripted.child.lastLines()).toEqual(['c', 'd', 'reported']);
  });
});

describe('a child process starts', () => {
  it("with the addon's malloc setting, the environment given, and the descriptors given as 4, …", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'asr-child-process-'));
    try {
      const file = join(dir, 'fd4');
      const fd = openSync(file, 'w');
      // Without allocator tuning of the user's own, which addonProcessEnv leaves as it is.
      const ownTuning = { MALLOC_ARENA_MAX: undefined, GLIBC_TUNABLES: undefined, ASR_TRAINER_MALLOC: undefined };
      const scripted = startScripted({}, [fd], { ...ownTuning, ASR_SCRIPTED_MARK: 'here' });
      closeSync(fd);
      const answer = await scripted.ask({
        cmd: 'inspect',
        names: ['MALLOC_ARENA_MAX', 'ASR_SCRIPTED_MARK'],
        text: 'via 4',
      });
      expect(answer).toEqual({ kind: 'inspected', env: { MALLOC_ARENA_MAX: '1', ASR_SCRIPTED_MARK: 'here' } });
      expect(readFileSync(file, 'utf8')).toBe('via 4');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
