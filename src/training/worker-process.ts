/**
 * One forked trainer process (./child.ts) as the supervisor sees it: its rank, how it ended, and the
 * last lines it printed or logged, kept per process so a failed data-parallel run can show the lines of
 * the rank that failed rather than a mix of every rank's.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { LogLevel } from '../contract/index.js';
import { addonProcessEnv, forkEntry } from '../fork-entry.js';
import type { ChildToParent, ParentToChild } from './ipc.js';

/** Lines kept per worker for its failure report. */
const WORKER_LOG_LINES = 20;

/**
 * Forks a trainer process (./child.ts) with `env` plus the addon's allocator settings. `fd4` becomes its
 * descriptor TRAINER_LOCK_FD: the folder lock, or the channel a pre-started trainer receives it on.
 */
export function forkTrainer(env: NodeJS.ProcessEnv, fd4: number | null): ChildProcess {
  const { entry, execArgv } = forkEntry(import.meta.url, 'child');
  return fork(entry, [], {
    execArgv,
    env: addonProcessEnv(env),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc', ...(fd4 === null ? [] : [fd4])],
    serialization: 'advanced',
  });
}

export interface WorkerProcessOptions {
  /** The worker's rank in the world (0 for a single trainer). */
  rank: number;
  env: NodeJS.ProcessEnv;
  /**
   * The folder lock's descriptor, handed to the process as its descriptor TRAINER_LOCK_FD (only the writer
   * gets it) and adopted there (src/checkpoints/lock.ts).
   */
  lockFd: number | null;
  /** A trainer started earlier (./spare-trainer.ts) to use instead of forking one; `env`, `lockFd` unused. */
  started?: ChildProcess;
  /** A line the process printed (stdout: 'debug', stderr: 'warning'). */
  onLine: (worker: WorkerProcess, level: LogLevel, line: string) => void;
  onMessage: (worker: WorkerProcess, message: ChildToParent) => void;
  /** After the process exited and its output ended, so its last lines are in. */
  onClose: (worker: WorkerProcess) => void;
}

export class WorkerProcess {
  readonly rank: number;
  readonly child: ChildProcess;
  /** What it reported before exiting: its run's end, or its error. */
  finished: { state: 'completed' | 'stopped'; reason?: string } | null = null;
  /** Its heap when its run ended (its peak), as it reported. */
  heapBytes: number | null = null;
  error: { code: string; message: string } | null = null;
  /** Set once it has exited. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  /** The supervisor ended it (a group torn down after another rank failed, or the stop timeout). */
  killedBySupervisor = false;
  private readonly lines: string[] = [];

  constructor(options: WorkerProcessOptions) {
    this.rank = options.rank;
    this.child = options.started ?? forkTrainer(options.env, options.lockFd);
    for (const [stream, level] of [
      [this.child.stdout, 'debug'],
      [this.child.stderr, 'warning'],
    ] as const) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        if (!line.trim()) return;
        this.remember(line);
        options.onLine(this, level, line);
      });
    }
    this.child.on('message', (message: ChildToParent) => {
      if (message.kind === 'done') {
        this.finished = { state: message.state, reason: message.reason };
        this.heapBytes = message.heap_bytes ?? null;
      }
      if (message.kind === 'error') this.error = { code: message.code, message: message.message };
      options.onMessage(this, message);
    });
    // 'close' (not 'exit'): it waits for stdout/stderr to end, so an abort's last stderr lines are in.
    this.child.on('close', (code, signal) => {
      this.exit = { code, signal };
      options.onClose(this);
    });
    this.child.on('error', (err) => this.remember(`process error: ${err.message}`));
  }

  get pid(): number | null {
    return this.child.pid ?? null;
  }

  get alive(): boolean {
    return this.exit === null;
  }

  /** Ended by a signal or a non-zero exit (not yet known while alive). */
  get failed(): boolean {
    return this.exit !== null && (this.exit.signal !== null || this.exit.code !== 0);
  }

  send(message: ParentToChild): void {
    if (this.child.connected) this.child.send(message);
  }

  /** SIGKILL, remembered as the supervisor's doing (unless the process had already exited). */
  kill(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.killedBySupervisor = true;
    this.child.kill('SIGKILL');
  }

  /** A log line the process reported over IPC (rank 0's run events), kept with its output. */
  remember(line: string): void {
    this.lines.push(line);
    if (this.lines.length > WORKER_LOG_LINES) this.lines.splice(0, this.lines.length - WORKER_LOG_LINES);
  }

  lastLines(): string[] {
    return [...this.lines];
  }
}

/**
 * The worker whose end failed its group. A rank killed from outside or failing on its own comes before
 * one that only lost a peer (E_DISTRIBUTED), and both before those the supervisor killed.
 */
export function culprit(workers: WorkerProcess[]): WorkerProcess {
  const order = (w: WorkerProcess): number => (w.killedBySupervisor ? 2 : w.error?.code === 'E_DISTRIBUTED' ? 1 : 0);
  return workers.filter((w) => w.failed).sort((a, b) => order(a) - order(b))[0] ?? workers[0]!;
}
