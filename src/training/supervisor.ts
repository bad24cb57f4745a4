import { EventEmitter } from 'node:events';
import { CheckpointStore } from '../checkpoints/index.js';
import { inheritedLockEnv, type CheckpointLock } from '../checkpoints/lock.js';
import { describeExit } from '../child-process/index.js';
import type { AsrConfig } from '../config/schema.js';
import { AsrTrainerError } from '../errors.js';
import type {
  LogLevel,
  LogPayload,
  RunFailure,
  StatusPayload,
  TrainingEvent,
  TrainRequest,
} from '../contract/index.js';
import { logEvent } from './events.js';
import { TRAINER_LOCK_FD, type ChildToParent, type ReportedEvent } from './ipc.js';
import { planRun, type PlanOptions, type RunPlan } from './plan.js';
import { SpareTrainer } from './spare-trainer.js';
import { idleStatus, plannedStatus, withProgress, withState } from './status.js';
import { culprit, WorkerProcess } from './worker-process.js';
import { freeRendezvousPort, withResolvedLayout, type ResolvedConfig } from './layout.js';
import { localPlaces, placeEnvironment, withoutPlace, worldSizeOf } from './world-env.js';

export interface SupervisorOptions {
  /** How long a stopping trainer gets to save and exit before it is killed. */
  stopTimeoutMs?: number;
  /** Extra environment for the trainer process. */
  env?: NodeJS.ProcessEnv;
  /**
   * Keep a trainer process started while idle (./spare-trainer.ts), so a start or resume skips starting
   * Node and loading LibTorch (the server: `server.prestart_trainer`). Only for world size 1.
   */
  prestart?: boolean;
}

const RECENT_LOG_LINES = 200;
const FAILURE_LOG_LINES = 20;
/**
 * After a worker dies, the others are killed this much later: ranks that died together (a killed rank
 * and the one whose collective it broke) are all reaped first, so the report names the one that died.
 */
const TEARDOWN_DELAY_MS = 200;

/** How the worker group ended, once every worker has exited. */
type GroupEnd =
  | { kind: 'finished'; state: 'completed' | 'stopped'; reason?: string }
  | { kind: 'stop-timeout'; worker: WorkerProcess }
  | { kind: 'failed'; worker: WorkerProcess };

/**
 * Runs each training in forked trainer processes (./child.ts), so a native abort, an OOM kill or a
 * segfault ends that process and never the API. It plans each start itself and hands the trainer the
 * plan. The trainer's events cross by IPC and are re-emitted as `on('event', (e: TrainingEvent) => …)`;
 * the supervisor owns the status (./status.ts), emits every `status` event and keeps the recent log lines.
 *
 * With distributed.nproc_per_node × nnodes > 1 it starts this node's nproc_per_node workers as one run,
 * each with torchrun's variables (./world-env.ts; the c10d store listens on distributed.master_port, so
 * two runs on one machine need two ports). Rank 0 holds the folder lock and reports the events. A worker
 * that dies takes the group down at once; the run fails naming its rank, or, while restarts are left
 * (distributed.max_restarts), the group starts again from the latest valid checkpoint. World size 1 is
 * the single trainer process, with no process group. `nproc_per_node: auto` is resolved once, here, for
 * this machine (./layout.ts); the workers it lays out meet on a free port, not on master_port.
 */
export class TrainingSupervisor extends EventEmitter<{ event: [TrainingEvent] }> {
  private current: StatusPayload = idleStatus();
  private workers: WorkerProcess[] = [];
  private plan: RunPlan | null = null;
  private readonly logs: LogPayload[] = [];
  private stopTimer: NodeJS.Timeout | null = null;
  private teardownTimer: NodeJS.Timeout | null = null;
  private killedForTimeout = false;
  private stopBeforeFork = false;
  private lock: CheckpointLock | null = null;
  private exitWaiters: (() => void)[] = [];
  private spare: SpareTrainer | null = null;
  /** The last finished run's heap at its end: what the next spare trainer pages in. */
  private lastHeapBytes = 0;
  private closed = false;
  private readonly stopTimeoutMs: number;
  private readonly config: ResolvedConfig;
  private readonly worldSize: number;
  /** The layout came from `nproc_per_node: auto`: its rendezvous port is picked free per group start. */
  private readonly autoLayout: boolean;
  /** The rendezvous port of the group being started or running. */
  private masterPort: number;

  constructor(
    config: AsrConfig,
    private readonly options: SupervisorOptions = {},
  ) {
    super();
    this.stopTimeoutMs = options.stopTimeoutMs ?? 60_000;
    this.config = withResolvedLayout(config);
    this.worldSize = worldSizeOf(this.config.distributed);
    this.autoLayout = config.distributed.nproc_per_node === 'auto' && this.worldSize > 1;
    this.masterPort = config.distributed.master_port;
    this.prestart();
  }

  status(): StatusPayload {
    return { ...this.current };
  }

  recentLogs(): LogPayload[] {
    return [...this.logs];
  }

  /** The rank-0 trainer's process id while one runs (tests and operators use it to signal the trainer). */
  get trainerPid(): number | null {
    return this.workers[0]?.pid ?? null;
  }

  /** This node's worker process ids by local rank, while a run's workers live. */
  get workerPids(): number[] {
    return this.workers.filter((w) => w.alive && w.pid !== null).map((w) => w.pid!);
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
    if (this.config.distributed.node_rank !== 0 && this.worldSize > 1) {
      throw new AsrTrainerError(
        'E_INVALID_ARGUMENT',
        `This config is node ${this.config.distributed.node_rank}'s (distributed.node_rank), but runs start on node 0: start \`asr-trainer worker --config PATH\` here and the run on node 0`,
      );
    }
    const previous = this.current;
    this.current = {
      ...idleStatus(),
      state: 'starting',
      model_name: request.model_name,
      dataset_name: request.dataset_name,
      world_size: this.worldSize,
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
      await this.pickRendezvousPort();
    } catch (err) {
      this.releaseLock();
      this.stopBeforeFork = false;
      this.current = previous;
      throw err;
    }
    // 'stopping' when a stop came while planning.
    this.current = { ...plannedStatus(plan, this.current.state), world_size: this.worldSize };
    this.emitStatus();
    this.log(
      'info',
      (plan.resumed_from
        ? `Resuming ${plan.model_name} on ${plan.dataset_name} from ${plan.resumed_from}: epoch ${plan.start_epoch} of ${plan.epochs}`
        : `Starting ${plan.model_name} on ${plan.dataset_name} from scratch: ${plan.epochs} epochs`) +
        (this.worldSize > 1 ? this.worldDescription() : ''),
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
    if (this.workers.length === 0) {
      // Still planning: start() sees this and does not fork.
      this.stopBeforeFork = true;
      return { status: 'stopping' };
    }
    // Every local rank hears it; the ranks agree on the step (./stop-vote.ts).
    for (const worker of this.workers) worker.send({ cmd: 'stop' });
    this.stopTimer = setTimeout(() => {
      this.killedForTimeout = true;
      this.log(
        'warning',
        `Trainer did not stop within ${this.stopTimeoutMs} ms; killing it (the last committed checkpoint stays valid)`,
      );
      for (const worker of this.workers) worker.kill();
    }, this.stopTimeoutMs);
    this.stopTimer.unref();
    return { status: 'stopping' };
  }

  /** SIGKILLs every worker at once (a second Ctrl-C: the user will not wait for the checkpoint). */
  killWorkers(): void {
    for (const worker of this.workers) worker.kill();
  }

  /** The waiting pre-started trainer's process id, if one waits (tests). */
  get spareTrainerPid(): number | null {
    return this.spare?.pid ?? null;
  }

  /** Stops a running trainer gracefully and waits for it to exit (server shutdown); ends the spare trainer. */
  async shutdown(): Promise<void> {
    this.closed = true;
    this.spare?.discard();
    this.spare = null;
    if (this.workers.length === 0) return;
    const exited = this.waitForExit();
    if (this.isBusy()) this.stop();
    await exited;
  }

  /** Resolves when no trainer process is alive. */
  waitForExit(): Promise<void> {
    if (this.workers.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  private worldDescription(): string {
    const { nproc_per_node, nnodes, master_addr } = this.config.distributed;
    const layout = this.autoLayout ? ', distributed.nproc_per_node: auto' : '';
    return ` on ${this.worldSize} workers (${nproc_per_node} here × ${nnodes} nodes${layout}, rendezvous ${master_addr}:${this.masterPort})`;
  }

  private async pickRendezvousPort(): Promise<void> {
    if (this.autoLayout) this.masterPort = await freeRendezvousPort(this.config.distributed.master_addr);
  }

  /** The environment every trainer process starts with (before the lock's and a worker's place). */
  private trainerEnv(): NodeJS.ProcessEnv {
    return withoutPlace({ ...process.env, ...this.options.env });
  }

  /** Starts a spare trainer when this supervisor keeps one and none waits or runs. */
  private prestart(): void {
    if (!this.options.prestart || this.worldSize !== 1 || this.closed || this.spare || this.workers.length > 0) return;
    try {
      this.spare = SpareTrainer.start(this.trainerEnv(), this.lastHeapBytes);
    } catch (err) {
      // Only a lost head start: each run forks its trainer as without one.
      this.log('warning', `Could not pre-start a trainer process: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private spawn(plan: RunPlan): void {
    this.plan = plan;
    this.killedForTimeout = false;
    const base = this.trainerEnv();
    const lockEnv = inheritedLockEnv(this.lock!, TRAINER_LOCK_FD);
    const handlers = {
      onLine: (worker: WorkerProcess, level: LogLevel, line: string) => this.onWorkerLine(worker, level, line),
      onMessage: (worker: WorkerProcess, message: ChildToParent) => this.onWorkerMessage(worker, message),
      onClose: (worker: WorkerProcess) => this.onWorkerClose(worker),
    };
    // A pre-started trainer has the lock sent to it instead of inheriting it, and is told where it is.
    let sentLock: { sentLockPath?: string } = {};
    if (this.worldSize === 1) {
      const started = this.spare?.take(this.lock!.fd) ?? undefined;
      this.spare = null;
      if (started) sentLock = { sentLockPath: this.lock!.path };
      this.workers = [
        new WorkerProcess({ rank: 0, env: { ...base, ...lockEnv }, lockFd: this.lock!.fd, started, ...handlers }),
      ];
    } else {
      // Only rank 0 writes, so only it adopts the lock; ranks count from node_rank × nproc_per_node.
      this.workers = localPlaces({ ...this.config.distributed, master_port: this.masterPort }).map(
        (place) =>
          new WorkerProcess({
            rank: place.rank,
            env: { ...base, ...placeEnvironment(place), ...(place.rank === 0 ? lockEnv : {}) },
            lockFd: place.rank === 0 ? this.lock!.fd : null,
            ...handlers,
          }),
      );
    }
    // The trainer opens this very plan, so it resumes exactly what the 202 announced.
    for (const worker of this.workers) worker.send({ cmd: 'start', config: this.config, plan, ...sentLock });
  }

  private label(worker: WorkerProcess): string {
    return this.worldSize === 1 ? 'trainer' : `rank ${worker.rank}`;
  }

  private onWorkerLine(worker: WorkerProcess, level: LogLevel, line: string): void {
    // The other ranks print their run's log lines too (kept for their failure report); rank 0's run
    // reports them as events, so only their stderr reaches the log here.
    if (worker.rank === 0 || level !== 'debug') this.log(level, `[${this.label(worker)}] ${line}`);
  }

  private onWorkerMessage(worker: WorkerProcess, message: ChildToParent): void {
    if (worker.rank !== 0) return;
    if (message.kind === 'event') this.onRunEvent(worker, message.event);
    else if (message.kind === 'prepared' && this.current.state === 'starting') this.setState('running');
  }

  private onRunEvent(worker: WorkerProcess, event: ReportedEvent): void {
    if (event.type === 'log') {
      this.remember(event.payload);
      worker.remember(`[${event.payload.level}] ${event.payload.message}`);
    }
    if (event.type === 'progress') this.current = withProgress(this.current, event.payload);
    this.emit('event', event);
  }

  private onWorkerClose(worker: WorkerProcess): void {
    if (!this.workers.includes(worker)) return;
    if (worker.failed && !worker.killedBySupervisor && this.teardownTimer === null && !this.workers[0]!.finished) {
      this.teardownTimer = setTimeout(() => {
        for (const other of this.workers) other.kill();
      }, TEARDOWN_DELAY_MS);
    } else if (worker.rank === 0 && !worker.failed && this.workers.some((w) => w.alive)) {
      // Rank 0 finished: the others passed the last collective and are only closing; do not wait forever.
      this.teardownTimer ??= setTimeout(
        () => this.workers.forEach((w) => w.kill()),
        this.config.distributed.timeout_s * 1000,
      );
    }
    if (this.workers.some((w) => w.alive)) return;
    const end = this.groupEnd();
    this.clearTimers();
    void this.onGroupEnd(end);
  }

  private clearTimers(): void {
    if (this.stopTimer) clearTimeout(this.stopTimer);
    if (this.teardownTimer) clearTimeout(this.teardownTimer);
    this.stopTimer = null;
    this.teardownTimer = null;
  }

  private groupEnd(): GroupEnd {
    const rank0 = this.workers[0]!;
    if (rank0.finished && rank0.exit?.code === 0) return { kind: 'finished', ...rank0.finished };
    if (this.killedForTimeout) return { kind: 'stop-timeout', worker: rank0 };
    return { kind: 'failed', worker: culprit(this.workers) };
  }

  private async onGroupEnd(end: GroupEnd): Promise<void> {
    const workers = this.workers;
    if (end.kind === 'finished') {
      this.lastHeapBytes = workers[0]!.heapBytes ?? this.lastHeapBytes;
      this.current = withState(this.current, end.state, undefined, end.reason);
      const ended = end.state === 'completed' ? 'Training completed' : 'Training stopped';
      this.log('info', end.reason ? `${ended}: ${end.reason}` : ended);
    } else if (end.kind === 'stop-timeout') {
      const why = 'Trainer was killed after the stop timeout; resume continues from the last committed checkpoint';
      this.current = withState(this.current, 'stopped', this.failure(end.worker, why));
    } else {
      const cause = this.causeOf(end.worker);
      const restartsLeft = this.current.restarts < this.config.distributed.max_restarts;
      if (this.current.state === 'running' && restartsLeft && (await this.restart(cause))) return;
      // The one log line of a failure: the trainer reports it only as its 'error' message.
      this.log('error', `${cause}; the next start resumes from the last valid checkpoint`);
      this.current = withState(this.current, 'failed', this.failure(end.worker, cause));
    }
    if (this.workers === workers) this.workers = [];
    this.clearTimers();
    this.plan = null;
    this.releaseLock();
    this.emitStatus();
    const waiters = this.exitWaiters;
    this.exitWaiters = [];
    for (const resolve of waiters) resolve();
    this.prestart();
  }

  /** Starts the group again from the latest valid checkpoint; false (and logged) when that cannot be planned. */
  private async restart(cause: string): Promise<boolean> {
    const count = this.current.restarts + 1;
    const { max_restarts } = this.config.distributed;
    this.log(
      'warning',
      `${cause}; restarting the worker group from the latest valid checkpoint (restart ${count} of ${max_restarts})`,
    );
    const request: TrainRequest = { ...this.plan!.request, resume_from_checkpoint: true };
    delete request.specific_checkpoint;
    let plan: RunPlan;
    try {
      plan = await planRun(this.config, request, { runId: this.plan!.run_id });
      await this.pickRendezvousPort();
    } catch (err) {
      this.log('error', `Could not restart: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
    if (this.current.state !== 'running') return false;
    this.current = { ...plannedStatus(plan, 'running'), world_size: this.worldSize, restarts: count };
    this.emitStatus();
    this.log('info', `Restart ${count}: resuming from ${plan.resumed_from ?? 'the start'}, epoch ${plan.start_epoch}`);
    this.spawn(plan);
    return true;
  }

  private causeOf(worker: WorkerProcess): string {
    const trainer = this.worldSize === 1 ? 'Trainer process' : `Rank ${worker.rank} (process ${worker.pid})`;
    if (worker.error)
      return this.worldSize === 1 ? worker.error.message : `Rank ${worker.rank}: ${worker.error.message}`;
    return `${trainer} ${describeExit(worker.exit ?? { code: null, signal: null })}`;
  }

  private releaseLock(): void {
    void this.lock?.release();
    this.lock = null;
  }

  private failure(worker: WorkerProcess, message: string): RunFailure {
    const { code, signal } = worker.exit ?? { code: null, signal: null };
    return {
      message,
      ...(worker.error ? { code: worker.error.code } : {}),
      signal,
      exit_code: code,
      ...(this.worldSize > 1 ? { rank: worker.rank } : {}),
      last_logs:
        this.worldSize > 1
          ? worker.lastLines()
          : this.logs.slice(-FAILURE_LOG_LINES).map((l) => `[${l.level}] ${l.message}`),
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
