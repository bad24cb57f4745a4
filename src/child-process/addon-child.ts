/**
 * The parent's side of a child process that runs the addon (the trainer, averaging, transcription, and the
 * children still to come): a process of its own so that a LibTorch abort, an OOM kill or a segfault ends it
 * and never the API or the CLI. A kind declares its messages (its ipc.ts, with ErrorMessage for a failure);
 * this module forks its entry, carries the messages, keeps the tail of its output and says how it ended.
 * The child's side is ./parent-channel.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { AsrTrainerError, type AsrErrorCode } from '../errors.js';
import { addonProcessEnv, forkEntry } from './fork-entry.js';

export interface AddonChildEntry {
  /** The caller's `import.meta.url`: the entry file sits beside the caller (./fork-entry.ts). */
  callerUrl: string;
  /** The entry's file name without extension. */
  name: string;
  /** The child's whole environment; the addon's allocator settings are added (addonProcessEnv). */
  env: NodeJS.ProcessEnv;
  /** Descriptors the child gets as its 4, 5, … (after stdin, stdout, stderr and the IPC channel). */
  fds?: number[];
}

/** Forks an entry; AddonChild takes the process at once, or later for one started ahead (the spare trainer). */
export function forkAddonChild({ callerUrl, name, env, fds = [] }: AddonChildEntry): ChildProcess {
  const { entry, execArgv } = forkEntry(callerUrl, name);
  return fork(entry, [], {
    execArgv,
    env: addonProcessEnv(env),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc', ...fds],
    serialization: 'advanced',
  });
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How a process ended, to follow its name: "was killed by SIGKILL", "exited with code 1". */
export function describeExit({ code, signal }: ChildExit): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/** Lines kept by default: a LibTorch abort prints its reason in the last few lines of stderr. */
const TAIL_LINES = 10;

export interface AddonChildOptions<ToParent> {
  /** Lines kept in the tail (default 10). */
  tailLines?: number;
  /** Keep stdout's lines in the tail too, not only stderr's. */
  tailStdout?: boolean;
  /** A non-blank line the child printed. */
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
  onMessage?: (message: ToParent) => void;
  /** After the process exited and its output ended, so its last lines are in the tail. */
  onClose?: (exit: ChildExit) => void;
  /** The process could not be started, or a message without its own failure callback was not delivered. */
  onError?: (err: Error) => void;
}

export class AddonChild<ToChild extends object, ToParent extends object> {
  /** Set once the process has exited and its output has ended. */
  exit: ChildExit | null = null;
  /** Resolves with `exit` when it is set. */
  readonly ended: Promise<ChildExit>;
  private readonly tail: string[] = [];
  private readonly tailLines: number;

  static fork<ToChild extends object, ToParent extends object>(
    entry: AddonChildEntry,
    options: AddonChildOptions<ToParent>,
  ): AddonChild<ToChild, ToParent> {
    return new AddonChild(forkAddonChild(entry), options);
  }

  /** `child`: a process forkAddonChild started with this kind's entry. */
  constructor(
    private readonly child: ChildProcess,
    options: AddonChildOptions<ToParent>,
  ) {
    this.tailLines = options.tailLines ?? TAIL_LINES;
    for (const [stream, name] of [
      [child.stdout, 'stdout'],
      [child.stderr, 'stderr'],
    ] as const) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        if (!line.trim()) return;
        if (name === 'stderr' || options.tailStdout) this.remember(line);
        options.onLine?.(name, line);
      });
    }
    // The child's side sends only ToParent (ParentChannel.send is typed so).
    child.on('message', (message: ToParent) => options.onMessage?.(message));
    this.ended = new Promise((resolve) => {
      // 'close' (not 'exit'): it waits for stdout and stderr to end, so an abort's last lines are in the tail.
      child.on('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
        options.onClose?.(this.exit);
      });
    });
    child.on('error', (err) => options.onError?.(err));
  }

  get pid(): number | null {
    return this.child.pid ?? null;
  }

  /** Exited (its output may still be ending; `exit` is set once that has ended too). */
  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /**
   * Sends when the channel is open (a process already gone answers through onClose). A failure to deliver
   * goes to `onUndelivered`, or without one to onError.
   */
  send(message: ToChild, onUndelivered?: (err: Error) => void): void {
    if (!this.child.connected) return;
    if (onUndelivered) this.child.send(message, (err) => err && onUndelivered(err));
    else this.child.send(message);
  }

  /** Signals the process unless it has exited already. */
  kill(signal: NodeJS.Signals): void {
    if (!this.exited) this.child.kill(signal);
  }

  /** Adds a line to the tail: one the child reported over IPC rather than printed. */
  remember(line: string): void {
    this.tail.push(line);
    if (this.tail.length > this.tailLines) this.tail.splice(0, this.tail.length - this.tailLines);
  }

  /** The tail: the last lines, oldest first. */
  lastLines(): string[] {
    return [...this.tail];
  }

  /** The error for a process that ended without answering: its details carry the signal, exit code and tail. */
  deathError(code: AsrErrorCode, message: string): AsrTrainerError {
    const exit = this.exit ?? { code: null, signal: null };
    return new AsrTrainerError(code, message, {
      signal: exit.signal,
      exit_code: exit.code,
      last_logs: this.lastLines(),
    });
  }
}
