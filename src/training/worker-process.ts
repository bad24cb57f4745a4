/**
 * One forked trainer process (./child.ts) as the supervisor sees it: its rank, how it ended, and the
 * last lines it printed or logged, kept per process so a failed data-parallel run can show the lines of
 * the rank that failed rather than a mix of every rank's.
 */
import type { ChildProcess } from 'node:child_process';
import { AddonChild, forkAddonChild, reportedError, type ChildExit } from '../child-process/index.js';
import type { LogLevel } from '../contract/index.js';
import type { AsrTrainerError } from '../errors.js';
import type { ChildToParent, ParentToChild } from './ipc.js';

/** Lines kept per worker for its failure report. */
const WORKER_LOG_LINES = 20;

/**
 * Forks a trainer process (./child.ts) with `env` plus the addon's allocator settings. `fd4` becomes its
 * descriptor TRAINER_LOCK_FD: the folder lock, or the channel a pre-started trainer receives it on.
 */
export function forkTrainer(env: NodeJS.ProcessEnv, fd4: number | null): ChildProcess {
  return forkAddonChild({ callerUrl: import.meta.url, name: 'child', env, fds: fd4 === null ? [] : [fd4] });
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
  /** What it reported before exiting: its run's end, or its error. */
  finished: { state: 'completed' | 'stopped'; reason?: string } | null = null;
  /** Its heap when its run ended (its peak), as it reported. */
  heapBytes: number | null = null;
  error: AsrTrainerError | null = null;
  /** The supervisor ended it (a group torn down after another rank failed, or the stop timeout). */
  killedBySupervisor = false;
  /** The process; its tail holds the lines it printed and those it reported, for its failure report. */
  private readonly child: AddonChild<ParentToChild, ChildToParent>;

  constructor(options: WorkerProcessOptions) {
    this.rank = options.rank;
    this.child = new AddonChild<ParentToChild, ChildToParent>(
      options.started ?? forkTrainer(options.env, options.lockFd),
      {
        tailLines: WORKER_LOG_LINES,
        tailStdout: true,
        onLine: (stream, line) => options.onLine(this, stream === 'stdout' ? 'debug' : 'warning', line),
        onMessage: (message) => {
          if (message.kind === 'done') {
            this.finished = { state: message.state, reason: message.reason };
            this.heapBytes = message.heap_bytes ?? null;
          }
          if (message.kind === 'error') this.error = reportedError(message.error);
          options.onMessage(this, message);
        },
        onClose: () => options.onClose(this),
        onError: (err) => this.remember(`process error: ${err.message}`),
      },
    );
  }

  get pid(): number | null {
    return this.child.pid;
  }

  /** Set once it has exited. */
  get exit(): ChildExit | null {
    return this.child.exit;
  }

  get alive(): boolean {
    return this.exit === null;
  }

  /** Ended by a signal or a non-zero exit (not yet known while alive). */
  get failed(): boolean {
    return this.exit !== null && (this.exit.signal !== null || this.exit.code !== 0);
  }

  send(message: ParentToChild): void {
    this.child.send(message);
  }

  /** SIGKILL, remembered as the supervisor's doing (unless the process had already exited). */
  kill(): void {
    if (this.child.exited) return;
    this.killedBySupervisor = true;
    this.child.kill('SIGKILL');
  }

  /** A log line the process reported over IPC (rank 0's run events), kept with its output. */
  remember(line: string): void {
    this.child.remember(line);
  }

  lastLines(): string[] {
    return this.child.lastLines();
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
