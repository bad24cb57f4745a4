import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { CheckpointStore } from '../checkpoints/index.js';
import { inheritedLockEnv, type CheckpointLock } from '../checkpoints/lock.js';
import type { AsrConfig } from '../config/schema.js';
import { AsrTrainerError } from '../errors.js';
import { forkEntry } from '../fork-entry.js';
import type {
  LogLevel,
  LogPayload,
  RunFailure,
  StatusPayload,
  TrainingEvent,
  TrainRequest,
} from '../contract/index.js';
import { logEvent } from './events.js';
import type { ChildToParent, ParentToChild, ReportedEvent } from './ipc.js';
import { planRun, type PlanOptions, type RunPlan } from './plan.js';
import { idleStatus, plannedStatus, withProgress, withState } from './status.js';

export interface SupervisorOptions {
  /** How long a stopping trainer gets to save and exit before it is killed. */
  stopTimeoutMs?: number;
  /** Extra environment for the trainer process. */
  env?: NodeJS.ProcessEnv;
}

const RECENT_LOG_LINES = 200;
/** The trainer's descriptor of the folder lock: after stdin, stdout, stderr and the IPC channel. */
const TRAINER_LOCK_FD = 4;
const FAILURE_LOG_LINES = 20;

/**
 * Runs each training in a forked trainer process (./child.ts), so a native abort, an OOM kill or a
 * segfault ends that process and never the API. It plans each start itself and hands the trainer the
 * plan. The trainer's events cross by IPC and are re-emitted as `on('event', (e: TrainingEvent) => …)`;
 * the supervisor owns the status (./status.ts), emits every `status` event and keeps the recent log lines.
 */
export class TrainingSupervisor extends EventEmitter<{ event: [TrainingEvent] }> {
  private current: StatusPayload = idleStatus();
  private child: ChildProcess | null = null;
  private readonly logs: LogPayload[] = [];
  private stopTimer: NodeJS.Timeout | null = null;
  private killedForTimeout = false;
  private stopBeforeFork = false;
  private lock: CheckpointLock | null = null;
  private finished: { state: 'completed' | 'stopped' } | null = null;
  private childError: { code: string; message: string } | null = null;
  private exitWaiters: (() => void)[] = [];
  private readonly stopTimeoutMs: number;

  constructor(
    private readonly config: AsrConfig,
    private readonly options: SupervisorOptions = {},
  ) {
    super();
    this.stopTimeoutMs = options.stopTimeoutMs ?? 60_000;
  }

  status(): StatusPayload {
    return { ...this.current };
  }

  recentLogs(): LogPayload[] {
    return [...this.logs];
  }

  /** The trainer process id while one runs (tests and operators use it to signal the trainer). */
  get trainerPid(): number | null {
    return this.child?.pid ?? null;
  }

  isBusy(): boolean {
    return this.current.state === 'starting' || this.current.state === 'running' || this.current.state === 'stopping';
  }

  /**
   * Starts a run. The state is claimed before the first await, so of two concurrent calls exactly
   * one proceeds and the other throws E_TRAINING_IN_PROGRESS. Resolves once the plan is known and the
   * trainer is forked; the trainer then loads data and trains on its own.
   */
  async start(request: TrainRequest, options: Omit<PlanOptions, 'runId'> = {}): Promise<RunPlan> {
    if (this.isBusy()) throw new AsrTrainerError('E_TRAINING_IN_PROGRESS', 'Training is already in progress');
    const previous = this.current;
    this.current = {
      ...idleStatus(),
      state: 'starting',
      model_name: request.model_name,
      dataset_name: request.dataset_name,
    };
    let plan: RunPlan;
    try {
      plan = await planRun(this.config, request, options);
      // Held from this 202 until the trainer exits (it adopts the same lock): another server on this
      // folder answers 409 now, instead of 202 and a trainer that fails on the lock later.
      this.lock = await new CheckpointStore({ dir: this.config.paths.checkpoints }).acquireLock(
        plan.model_name,
        plan.dataset_name,
      );
    } catch (err) {
      this.stopBeforeFork = false;
      this.current = previous;
      throw err;
    }
    // 'stopping' when a stop came while planning.
    this.current = plannedStatus(plan, this.current.state);
    this.emitStatus();
    this.log(
      'info',
      plan.resumed_from
        ? `Resuming ${plan.model_name} on ${plan.dataset_name} from ${plan.resumed_from}: epoch ${plan.start_epoch} of ${plan.epochs}`
        : `Starting ${plan.model_name} on ${plan.dataset_name} from scratch: ${plan.epochs} epochs`,
    );
    for (const warning of plan.warnings) this.log('warning', warning);
    if (this.stopBeforeFork) {
      this.stopBeforeFork = false;
      this.setState('stopped');
      this.log('info', 'Stopped before the trainer started');
      this.releaseLock();
      return plan;
    }
    this.spawn(plan);
    return plan;
  }

  /** Asks the trainer to finish its step, save a checkpoint and exit; kills it after the timeout. */
  stop(): { status: 'stopping' } {
    if (!this.isBusy()) throw new AsrTrainerError('E_NOT_RUNNING', 'No training is running; nothing to stop');
    if (this.current.state === 'stopping') return { status: 'stopping' };
    this.setState('stopping');
    this.log('info', 'Stop requested: finishing the current step and saving a checkpoint');
    const child = this.child;
    if (!child) {
      // Still planning: start() sees this and does not fork.
      this.stopBeforeFork = true;
      return { status: 'stopping' };
    }
    this.send({ cmd: 'stop' });
    this.stopTimer = setTimeout(() => {
      this.killedForTimeout = true;
      this.log(
        'warning',
        `Trainer did not stop within ${this.stopTimeoutMs} ms; killing it (the last committed checkpoint stays valid)`,
      );
      child.kill('SIGKILL');
    }, this.stopTimeoutMs);
    this.stopTimer.unref();
    return { status: 'stopping' };
  }

  /** Stops a running trainer gracefully and waits for it to exit (server shutdown). */
  async shutdown(): Promise<void> {
    if (!this.child) return;
    const exited = this.waitForExit();
    if (this.isBusy()) this.stop();
    await exited;
  }

  /** Resolves when no trainer process is alive. */
  waitForExit(): Promise<void> {
    if (!this.child) return Promise.resolve();
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  private spawn(plan: RunPlan): void {
    const { entry, execArgv } = forkEntry(import.meta.url, 'child');
    const lockFd = this.lock!.fd;
    const child = fork(entry, [], {
      execArgv,
      env: { ...process.env, ...this.options.env, ...inheritedLockEnv(this.lock!, TRAINER_LOCK_FD) },
      // The trainer gets the open lock file as its descriptor 4 and adopts it (src/checkpoints/lock.ts).
      stdio: ['ignore', 'pipe', 'pipe', 'ipc', lockFd],
      serialization: 'advanced',
    });
    this.child = child;
    this.finished = null;
    this.childError = null;
    this.killedForTimeout = false;
    for (const [stream, level] of [
      [child.stdout, 'debug'],
      [child.stderr, 'warning'],
    ] as const) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        if (line.trim()) this.log(level, `[trainer] ${line}`);
      });
    }
    child.on('message', (message: ChildToParent) => this.onChildMessage(message));
    // 'close' (not 'exit'): it waits for stdout/stderr to end, so an abort's last stderr lines are in last_logs.
    child.on('close', (code, signal) => this.onChildExit(child, code, signal));
    child.on('error', (err) => this.log('error', `Trainer process error: ${err.message}`));
    // The trainer opens this very plan, so it resumes exactly what the 202 announced.
    this.send({ cmd: 'start', config: this.config, plan });
  }

  private send(message: ParentToChild): void {
    if (this.child?.connected) this.child.send(message);
  }

  private onChildMessage(message: ChildToParent): void {
    switch (message.kind) {
      case 'event':
        this.onRunEvent(message.event);
        break;
      case 'prepared':
        if (this.current.state === 'starting') this.setState('running');
        break;
      case 'done':
        this.finished = { state: message.state };
        break;
      case 'error':
        this.childError = { code: message.code, message: message.message };
        break;
    }
  }

  private onRunEvent(event: ReportedEvent): void {
    if (event.type === 'log') this.remember(event.payload);
    if (event.type === 'progress') this.current = withProgress(this.current, event.payload);
    this.emit('event', event);
  }

  private onChildExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.stopTimer = null;
    this.child = null;
    this.releaseLock();
    if (this.finished && code === 0) {
      this.current = withState(this.current, this.finished.state);
      this.log('info', this.finished.state === 'completed' ? 'Training completed' : 'Training stopped');
    } else if (this.killedForTimeout) {
      const why = 'Trainer was killed after the stop timeout; resume continues from the last committed checkpoint';
      this.current = withState(this.current, 'stopped', this.failure(why, code, signal));
    } else {
      const cause = this.childError
        ? this.childError.message
        : signal
          ? `Trainer process was killed by ${signal}`
          : `Trainer process exited with code ${code}`;
      // The one log line of a failure: the trainer reports it only as its 'error' message.
      this.log('error', `${cause}; the next start resumes from the last valid checkpoint`);
      this.current = withState(this.current, 'failed', this.failure(cause, code, signal));
    }
    this.emitStatus();
    const waiters = this.exitWaiters;
    this.exitWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private releaseLock(): void {
    void this.lock?.release();
    this.lock = null;
  }

  private failure(message: string, code: number | null, signal: NodeJS.Signals | null): RunFailure {
    return {
      message,
      ...(this.childError ? { code: this.childError.code } : {}),
      signal,
      exit_code: code,
      last_logs: this.logs.slice(-FAILURE_LOG_LINES).map((l) => `[${l.level}] ${l.message}`),
    };
  }

  private log(level: LogLevel, message: string): void {
    const event = logEvent(level, message);
    if (event.type === 'log') this.remember(event.payload);
    this.emit('event', event);
  }

  private remember(payload: LogPayload): void {
    this.logs.push(payload);
    if (this.logs.length > RECENT_LOG_LINES) this.logs.splice(0, this.logs.length - RECENT_LOG_LINES);
  }

  private setState(state: 'running' | 'stopping' | 'stopped'): void {
    this.current = withState(this.current, state);
    this.emitStatus();
  }

  private emitStatus(): void {
    this.emit('event', { type: 'status', payload: this.status() });
  }
}
