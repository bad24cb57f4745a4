import { EventEmitter } from 'node:events';
import type { CheckpointMetrics } from '../checkpoints/index.js';
import type { AsrConfig } from '../config/schema.js';
import type {
  LogLevel,
  RunFailure,
  StatusPayload,
  TrainingEvent,
  TrainingState,
  TrainRequest,
} from '../contract/index.js';
import { AsrTrainerError, isAsrTrainerError } from '../errors.js';
import type { Log } from '../log.js';
import type { StepProgress, World } from '../native/types.js';
import { CheckpointPolicy } from './checkpoint-policy.js';
import { EarlyStopping } from './early-stopping.js';
import { logEvent } from './events.js';
import { MetricsLog } from './metrics-log.js';
import { planRun, type PlanOptions, type RunPlan } from './plan.js';
import { scoreTestSplits } from './test-splits.js';
import { setUpRun, type RunResources } from './setup.js';
import { plannedStatus, withProgress, withState } from './status.js';
import { StopVote } from './stop-vote.js';
import { IdTrace } from './id-trace.js';
import { validate, validationMetrics, validationSummary } from './validation.js';

export interface OpenOptions {
  /** Receives every event, those of setting up included. */
  onEvent?: (event: TrainingEvent) => void;
  /**
   * A joined data-parallel world (./worker.ts): every rank opens the same plan and runs it; rank 0 alone
   * holds the lock and writes checkpoints and metrics.jsonl. Absent: a run on its own, with no collective.
   */
  world?: World;
}

export interface PrepareOptions extends PlanOptions, OpenOptions {}

export interface RunOptions {
  /** Aborting it is stop(): the step in flight finishes, a checkpoint is saved, run() resolves. */
  signal?: AbortSignal;
}

export interface RunOutcome {
  state: 'completed' | 'stopped';
  /** The epoch the run ended in (the last completed one when completed). */
  epoch: number;
  /** Batches of `epoch` done. */
  step: number;
  global_step: number;
  /** The newest checkpoint committed by this run, else the one it resumed from. */
  last_checkpoint: string | null;
  /** Why a completed run ended before its last epoch (early stopping); absent otherwise. */
  reason?: string;
}

/** Metrics lines are appended at least this often while an epoch trains. */
const METRICS_FLUSH_MS = 2000;

/**
 * One training run (see ./index.ts for the API by example): the epoch loop. Set-up is ./setup.ts, when
 * and how checkpoints are saved is ./checkpoint-policy.ts. Created by `prepare` (or `open` for a plan made
 * elsewhere), which holds the checkpoint folder's lock until `run` ends or `close` is called.
 */
export class TrainingRun extends EventEmitter<{ event: [TrainingEvent] }> {
  private readonly stopVote: StopVote;
  private chunkAbort: AbortController | null = null;
  private closed = false;
  /** What the run reports, moved only by its own events (./status.ts), as the supervisor's is. */
  private current: StatusPayload;
  /** Where the loop stands; the status follows it through progress events, which a save may hold back. */
  private epoch: number;
  private step: number;
  private globalStep: number;
  /** Sum and count of this epoch's step losses (this process's share of it after a mid-epoch resume). */
  private epochLoss = { sum: 0, count: 0 };
  private readonly earlyStopping: EarlyStopping;
  private readonly checkpoints: CheckpointPolicy;
  private readonly metricsLog: MetricsLog;
  /** Rank 0 of a world, or a run on its own: the one that writes files. */
  private readonly writer: boolean;
  private readonly idTrace: IdTrace | null;

  private constructor(
    readonly plan: RunPlan,
    private readonly config: AsrConfig,
    private readonly resources: RunResources,
    onEvent?: (event: TrainingEvent) => void,
    private readonly world: World | null = null,
  ) {
    super();
    if (onEvent) this.on('event', onEvent);
    this.stopVote = new StopVote(world);
    this.writer = world === null || world.rank === 0;
    this.idTrace = IdTrace.fromEnv(world);
    this.current = { ...plannedStatus(plan, 'starting'), world_size: world?.size ?? 1 };
    this.epoch = plan.start_epoch;
    this.earlyStopping = new EarlyStopping(config.training.early_stopping_patience, plan.best_val);
    this.step = plan.start_step;
    this.globalStep = plan.start_global_step;
    const { store, trainer, dataSeed } = resources;
    this.checkpoints = new CheckpointPolicy({
      config,
      plan,
      store,
      trainer,
      dataSeed,
      world,
      send: (event) => this.send(event),
    });
    this.checkpoints.carry(this.earlyStopping.metrics());
    this.metricsLog = new MetricsLog(config.paths.runs, plan.model_name, plan.dataset_name, (err) =>
      this.log('warning', `Could not append ${this.metricsLog.path}: ${err.message}`),
    );
  }

  /**
   * Plans the request (what to resume, see ./plan.ts), then opens the run. Throws AsrTrainerError (see
   * ./index.ts) and releases the lock on failure.
   */
  static async prepare(config: AsrConfig, request: TrainRequest, options: PrepareOptions = {}): Promise<TrainingRun> {
    const plan = await planRun(config, request, options);
    for (const warning of plan.warnings) options.onEvent?.(logEvent('warning', warning));
    return TrainingRun.open(config, plan, options);
  }

  /**
   * Opens a run planned already (the supervisor plans before it forks the trainer, so the checkpoint is
   * resolved and verified once): takes the folder lock, loads the features, builds the trainer and loads
   * the checkpoint (./setup.ts). The plan's warnings are the planner's to report.
   */
  static async open(config: AsrConfig, plan: RunPlan, options: OpenOptions = {}): Promise<TrainingRun> {
    const log: Log = (level, message) => options.onEvent?.(logEvent(level, message));
    const world = options.world ?? null;
    const resources = await setUpRun(config, plan, log, world);
    return new TrainingRun(plan, config, resources, options.onEvent, world);
  }

  /** Finishes the step in flight, saves `…-epoch-N-step-S.pt`, commits; run() then resolves 'stopped'. */
  stop(): void {
    if (this.stopVote.requested) return;
    this.stopVote.request();
    // In a world the native side stops every rank after the same step.
    this.chunkAbort?.abort();
  }

  status(): StatusPayload {
    return { ...this.current };
  }

  /** Trains the remaining epochs. Releases the lock when done, whatever the outcome. */
  async run(options: RunOptions = {}): Promise<RunOutcome> {
    if (this.closed || this.current.state !== 'starting') {
      throw new AsrTrainerError(
        'E_INVALID_ARGUMENT',
        'This TrainingRun has already run or was closed; prepare a new one',
      );
    }
    const onAbort = (): void => this.stop();
    options.signal?.addEventListener('abort', onAbort);
    if (options.signal?.aborted) this.stop();
    const flushTimer = setInterval(() => void this.metricsLog.flush(), METRICS_FLUSH_MS);
    try {
      this.setState('running');
      const { plan } = this;
      for (let epoch = plan.start_epoch; epoch <= plan.epochs; epoch += 1) {
        const stopped = await this.trainEpoch(epoch, epoch === plan.start_epoch ? plan.start_step : 0);
        if (stopped) return await this.finish('stopped');
        await this.endEpoch(epoch);
        const reason = epoch < plan.epochs ? this.earlyStopping.reasonToStop(epoch) : null;
        if (reason) return await this.finish('completed', reason);
        if (epoch < plan.epochs && (await this.stopVote.agree())) return await this.finish('stopped');
      }
      return await this.finish('completed');
    } catch (err) {
      // Reported as the failed status and the rejection; whoever catches it logs it (once).
      const message = err instanceof Error ? err.message : String(err);
      this.setState('failed', { message, code: isAsrTrainerError(err) ? err.code : 'E_INTERNAL' });
      throw err;
    } finally {
      clearInterval(flushTimer);
      options.signal?.removeEventListener('abort', onAbort);
      // A failed run still lets its last write finish before the lock goes (its error is already reported).
      await this.checkpoints.settle().catch(() => undefined);
      await this.metricsLog.flush();
      await this.close();
    }
  }

  /** Releases the folder lock without training (after prepare, when the run is not wanted). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.resources.lock?.release();
  }

  /** Trains epoch `epoch` from batch `start`; true when a stop ended it early (after saving). */
  private async trainEpoch(epoch: number, start: number): Promise<boolean> {
    const { trainData, trainer, dataSeed } = this.resources;
    const batches = trainData.planEpoch(
      { batch_size: this.plan.batch_size, max_frames: this.config.training.max_frames, seed: dataSeed },
      epoch,
    );
    this.epoch = epoch;
    this.step = start;
    this.epochLoss = { sum: 0, count: 0 };
    if (start === 0) this.log('info', `Epoch ${epoch}/${this.plan.epochs}: ${batches.length} steps`);
    else this.log('info', `Epoch ${epoch}/${this.plan.epochs}: continuing at step ${start + 1} of ${batches.length}`);
    let position = start;
    let savedAt = start;
    while (position < batches.length) {
      if (await this.stopVote.agree()) break;
      const chunkStart = position;
      const chunk = batches.slice(chunkStart, this.checkpoints.chunkEnd(position, batches.length));
      this.chunkAbort = new AbortController();
      // A stop asked while no chunk trained (a save, a vote) is this chunk's first step boundary.
      if (this.stopVote.requested) this.chunkAbort.abort();
      const outcome = await trainer.train(trainData, chunk, {
        signal: this.chunkAbort.signal,
        onStep: (result) => this.onStep(epoch, chunkStart, batches.length, chunk[result.batch_index]!, result),
      });
      this.chunkAbort = null;
      position = chunkStart + outcome.steps.length;
      // A save that overlapped this chunk (one step) lands before the next one trains.
      await this.checkpoints.settle();
      if (outcome.cancelled) this.stopVote.cancelled();
      if (await this.stopVote.agree()) break;
      if (this.checkpoints.isDue(position, batches.length)) {
        await this.checkpoints.save(epoch, position, null);
        savedAt = position;
      }
    }
    if (!this.stopVote.stopping || position >= batches.length) return false;
    // Stopped inside the epoch: save where it stands, unless nothing moved since the last save.
    if (position > savedAt) await this.checkpoints.save(epoch, position, null);
    else
      this.log(
        'info',
        `Nothing trained since ${this.checkpoints.lastCheckpoint ?? 'the start'}; no new checkpoint needed`,
      );
    return true;
  }

  private onStep(
    epoch: number,
    chunkStart: number,
    stepsPerEpoch: number,
    batch: number[],
    result: StepProgress,
  ): void {
    this.step = chunkStart + result.batch_index + 1;
    this.globalStep = result.global_step;
    if (result.finite) {
      this.epochLoss.sum += result.loss;
      this.epochLoss.count += 1;
    } else {
      this.log('warning', `Step ${this.globalStep}: loss or gradient not finite; update skipped`);
    }
    this.idTrace?.record(epoch, result.global_step, result.ids ?? batch.map((i) => this.resources.trainData.id(i)));
    // A world's step is the global batch, done when its slowest rank is.
    const stepSeconds = result.rank_seconds ? Math.max(...result.rank_seconds) : result.seconds;
    const utterances = result.rank_seconds ? batch.length : result.utterances;
    const utterancesPerS = stepSeconds > 0 ? utterances / stepSeconds : 0;
    const { run_id } = this.plan;
    const { global_step, loss, lr } = result;
    const progress = {
      run_id,
      epoch,
      step: this.step,
      global_step,
      steps_per_epoch: stepsPerEpoch,
      loss,
      lr,
      utterances_per_s: utterancesPerS,
      ...(result.rank_seconds ? { rank_step_s: result.rank_seconds } : {}),
    };
    this.checkpoints.report(() => this.send({ type: 'progress', payload: progress }));
    if (!this.writer) return;
    const time = new Date().toISOString();
    this.metricsLog.record({
      kind: 'step',
      run_id,
      epoch,
      step: this.step,
      global_step,
      loss,
      lr,
      utterances_per_s: utterancesPerS,
      time,
    });
  }

  /** Validation, the epoch checkpoint and its metrics line. */
  private async endEpoch(epoch: number): Promise<void> {
    const { valData, trainer, dataSeed } = this.resources;
    let metrics: CheckpointMetrics = {};
    const due = epoch % this.config.training.val_every_epochs === 0 || epoch === this.plan.epochs;
    if (valData && due) {
      const valBatches = valData.planEpoch(
        {
          batch_size: this.plan.batch_size,
          max_frames: this.config.training.max_frames,
          seed: dataSeed,
          shuffle: false,
        },
        0,
      );
      const validation = await validate(trainer, valData, valBatches, this.config.training);
      const result = validation.raw;
      const figures = validationMetrics(validation);
      metrics = { ...figures };
      this.earlyStopping.observe(epoch, result.cer);
      this.send({ type: 'metrics', payload: { epoch, ...figures } });
      this.log('info', validationSummary(epoch, validation));
      if (result.hypotheses.length > 0) {
        this.log('debug', `Sample: ref "${result.references[0]}" → hyp "${result.hypotheses[0]}"`);
      }
      if (this.writer)
        this.metricsLog.record({
          kind: 'epoch',
          run_id: this.plan.run_id,
          epoch,
          global_step: this.globalStep,
          train_loss: this.epochLoss.count > 0 ? this.epochLoss.sum / this.epochLoss.count : null,
          ...figures,
          time: new Date().toISOString(),
        });
    } else if (!valData) {
      this.log('warning', `Epoch ${epoch}: no validation utterances; val metrics skipped`);
    }
    this.checkpoints.carry(this.earlyStopping.metrics());
    await this.checkpoints.save(epoch, this.step, metrics);
    await this.metricsLog.flush();
  }

  private async finish(state: 'completed' | 'stopped', reason?: string): Promise<RunOutcome> {
    await this.checkpoints.settle();
    // Copies to paths.backup ran beside training; the process must not exit in the middle of one.
    await this.resources.store.backupsIdle();
    const lastCheckpoint = this.checkpoints.lastCheckpoint;
    if (state === 'completed' && this.writer) await this.scoreTests();
    this.setState(state, undefined, reason);
    this.log(
      'info',
      state === 'stopped'
        ? `Training stopped at epoch ${this.epoch}, step ${this.step}; resume continues from ${lastCheckpoint ?? 'the start'}`
        : reason
          ? `Training completed at epoch ${this.epoch} of ${this.plan.epochs}, global step ${this.globalStep}: ${reason}`
          : `Training completed: ${this.plan.epochs} epochs, global step ${this.globalStep}`,
    );
    return {
      state,
      epoch: this.epoch,
      step: this.step,
      global_step: this.globalStep,
      last_checkpoint: lastCheckpoint,
      ...(reason ? { reason } : {}),
    };
  }

  /** The test splits' figures (./test-splits.ts); a failure to score them is a warning, the run completed. */
  private async scoreTests(): Promise<void> {
    const { store, dataset } = this.resources;
    const log: Log = (level, message) => this.log(level, message);
    try {
      await scoreTestSplits(this.config, store, dataset, this.plan.model_name, log);
    } catch (err) {
      this.log('warning', `The test splits could not be scored: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private setState(state: TrainingState, error?: RunFailure, reason?: string): void {
    this.current = withState(this.current, state, error, reason);
    this.send({ type: 'status', payload: this.status() });
  }

  private log(level: LogLevel, message: string): void {
    this.send(logEvent(level, message));
  }

  private send(event: TrainingEvent): void {
    if (event.type === 'progress') this.current = withProgress(this.current, event.payload);
    this.emit('event', event);
  }
}
