import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { CheckpointStore, backupOptions, type CheckpointLock, type CheckpointMetrics } from '../checkpoints/index.js';
import type { AsrConfig } from '../config/schema.js';
import { runConfigHash, runConfigSnapshot } from '../config/snapshot.js';
import { checkSkippedShare } from '../data/skips.js';
import { loadDataset } from '../data/dataset.js';
import { AsrTrainerError } from '../errors.js';
import { loadNative } from '../native.js';
import type { FeatureStore, JsonObject, StepProgress, Trainer } from '../native/types.js';
import { logEvent, type LogLevel, type StatusPayload, type TrainingEvent, type TrainingState } from './events.js';
import { MetricsLog, type MetricsRecord } from './metrics-log.js';
import { planRun, type PlanOptions, type RunPlan, type TrainRequest } from './plan.js';

export interface PrepareOptions extends PlanOptions {
  /** Receives every event, those of prepare() included. */
  onEvent?: (event: TrainingEvent) => void;
}

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
}

/** Metrics lines are appended at least this often while an epoch trains. */
const METRICS_FLUSH_MS = 2000;

/**
 * One training run (see ./index.ts for the API by example). Created by `prepare`, which holds the
 * checkpoint folder's lock until `run` ends or `close` is called.
 */
export class TrainingRun extends EventEmitter<{ event: [TrainingEvent] }> {
  private stopRequested = false;
  private chunkAbort: AbortController | null = null;
  private state: TrainingState = 'starting';
  private epoch: number;
  private step: number;
  private globalStep: number;
  private lastLoss: number | null = null;
  /** Sum and count of this epoch's step losses (this process's share of it after a mid-epoch resume). */
  private epochLoss = { sum: 0, count: 0 };
  private lastCheckpoint: string | null;
  private closed = false;
  private readonly pendingMetrics: MetricsRecord[] = [];
  private metricsWrite: Promise<void> = Promise.resolve();
  private pendingSave: Promise<void> | null = null;
  /**
   * Progress of steps trained while the previous save is still being written: held back until that save
   * is committed, so what a client has seen is never more than one save interval ahead of what a resume
   * can restore (the step itself still overlaps the write).
   */
  private heldProgress: Array<() => void> | null = null;

  private constructor(
    readonly plan: RunPlan,
    private readonly config: AsrConfig,
    private readonly store: CheckpointStore,
    private readonly lock: CheckpointLock,
    private readonly trainer: Trainer,
    private readonly trainData: FeatureStore,
    private readonly valData: FeatureStore | null,
    private readonly dataSeed: number,
    private readonly metricsLog: MetricsLog,
    onEvent?: (event: TrainingEvent) => void,
  ) {
    super();
    if (onEvent) this.on('event', onEvent);
    this.epoch = plan.start_epoch;
    this.step = plan.start_step;
    this.globalStep = plan.start_global_step;
    this.lastCheckpoint = plan.resumed_from;
  }

  /**
   * Resolves what to resume, takes the folder lock, loads the dataset's features, builds the trainer
   * and loads the checkpoint. Throws AsrTrainerError (see ./index.ts) and releases the lock on failure.
   */
  static async prepare(config: AsrConfig, request: TrainRequest, options: PrepareOptions = {}): Promise<TrainingRun> {
    const emit = (level: LogLevel, message: string): void => options.onEvent?.(logEvent(level, message));
    const plan = await planRun(config, request, options);
    for (const warning of plan.warnings) emit('warning', warning);
    const store = new CheckpointStore({
      dir: config.paths.checkpoints,
      logger: { info: (m) => emit('info', m), warn: (m) => emit('warning', m) },
      backup: backupOptions(config),
    });
    const lock = await store.acquireLock(plan.model_name, plan.dataset_name);
    try {
      const native = loadNative();
      const threads = config.training.threads === 'auto' ? 0 : config.training.threads;
      native.setThreads(threads);

      const dataset = loadDataset(config, plan.dataset_name, {
        limitSamples: request.limit_samples ?? undefined,
        lightweight: request.lightweight ?? false,
        onLog: emit,
      });
      emit('info', `Dataset ${plan.dataset_name}: ${dataset.counts.train} training and ${dataset.counts.val} validation utterances`);
      const cacheDir = join(config.paths.cache, 'features');
      let lastReported = 0;
      const onProgress = (done: number, total: number): void => {
        // A line per tenth is enough to show the cache is being built without flooding the log.
        if (total > 0 && (done === total || done - lastReported >= total / 10)) {
          lastReported = done;
          emit('info', `Features: ${done}/${total} utterances`);
        }
      };
      // One cache file per dataset split: sharing one name made each open overwrite the other's file.
      const cacheName = (split: string): string => `${plan.dataset_name}.${split}`;
      const trainData = await native.FeatureStore.open(
        dataset.train,
        { cache_dir: cacheDir, cache_name: cacheName('train'), threads },
        onProgress,
      );
      const valData =
        dataset.val.length > 0
          ? await native.FeatureStore.open(dataset.val, { cache_dir: cacheDir, cache_name: cacheName('val'), threads })
          : null;
      const skipped = [...dataset.skipped, ...trainData.skipped, ...(valData?.skipped ?? [])];
      const verdict = checkSkippedShare(plan.dataset_name, dataset.counts.total, skipped, dataset.maxSkippedFraction);
      if (verdict.warning) emit('warning', verdict.warning);
      if (trainData.size === 0) {
        throw new AsrTrainerError('E_DATASET_INVALID', `Dataset '${plan.dataset_name}' has no usable training utterances`);
      }

      const training = config.training;
      const trainer = new native.Trainer(
        { ...plan.model },
        {
          learning_rate: training.learning_rate,
          warmup_steps: training.warmup_steps,
          weight_decay: training.weight_decay,
          grad_clip: training.grad_clip,
          grad_accumulation: training.grad_accumulation,
          seed: training.seed,
          threads,
          device: training.device,
          precision: training.precision,
          spec_augment: { enabled: training.spec_augment },
        },
      );
      let dataSeed = training.seed;
      if (plan.resumed_from) {
        const meta = await trainer.load(store.pathOf(plan.resumed_from));
        // The batch order continues the checkpoint's, even if the config's seed changed since.
        dataSeed = meta.data_seed;
        emit('info', `Loaded ${plan.resumed_from} (epoch ${meta.epoch}, step ${meta.step}, global step ${meta.global_step})`);
      }
      emit(
        'info',
        `Model ${plan.model_name}: ${trainer.parameterCount.toLocaleString('en-US')} parameters on ${trainer.device}, ${native.versions.threads} threads`,
      );
      const metricsLog = new MetricsLog(config.paths.runs, plan.model_name, plan.dataset_name);
      return new TrainingRun(plan, config, store, lock, trainer, trainData, valData, dataSeed, metricsLog, options.onEvent);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /** Finishes the step in flight, saves `…-epoch-N-step-S.pt`, commits; run() then resolves 'stopped'. */
  stop(): void {
    if (this.stopRequested) return;
    this.stopRequested = true;
    this.chunkAbort?.abort();
  }

  status(): StatusPayload {
    return {
      state: this.state,
      run_id: this.plan.run_id,
      model_name: this.plan.model_name,
      dataset_name: this.plan.dataset_name,
      epoch: this.epoch,
      epochs: this.plan.epochs,
      step: this.step,
      global_step: this.globalStep,
      loss: this.lastLoss,
      lr: this.trainer.lr,
      resumed_from: this.plan.resumed_from,
    };
  }

  /** Trains the remaining epochs. Releases the lock when done, whatever the outcome. */
  async run(options: RunOptions = {}): Promise<RunOutcome> {
    if (this.closed || this.state !== 'starting') {
      throw new AsrTrainerError('E_INVALID_ARGUMENT', 'This TrainingRun has already run or was closed; prepare a new one');
    }
    const onAbort = (): void => this.stop();
    options.signal?.addEventListener('abort', onAbort);
    if (options.signal?.aborted) this.stop();
    const flushTimer = setInterval(() => this.flushMetrics(), METRICS_FLUSH_MS);
    try {
      this.setState('running');
      const { plan } = this;
      for (let epoch = plan.start_epoch; epoch <= plan.epochs; epoch += 1) {
        const stopped = await this.trainEpoch(epoch, epoch === plan.start_epoch ? plan.start_step : 0);
        if (stopped) return await this.finish('stopped');
        await this.endEpoch(epoch);
        if (this.stopRequested && epoch < plan.epochs) return await this.finish('stopped');
      }
      return await this.finish('completed');
    } catch (err) {
      this.setState('failed');
      this.log('error', `Training failed: ${(err as Error).message}`);
      throw err;
    } finally {
      clearInterval(flushTimer);
      options.signal?.removeEventListener('abort', onAbort);
      // A failed run still lets its last write finish before the lock goes (its error is already reported).
      await this.settleSave().catch(() => undefined);
      await this.flushMetrics();
      await this.close();
    }
  }

  /** Releases the folder lock without training (after prepare, when the run is not wanted). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.lock.release();
  }

  /** Trains epoch `epoch` from batch `start`; true when a stop ended it early (after saving). */
  private async trainEpoch(epoch: number, start: number): Promise<boolean> {
    const batches = this.trainData.planEpoch(
      { batch_size: this.plan.batch_size, max_frames: this.config.training.max_frames, seed: this.dataSeed },
      epoch,
    );
    const saveEvery = this.config.training.save_every_steps;
    this.epoch = epoch;
    this.step = start;
    this.epochLoss = { sum: 0, count: 0 };
    if (start === 0) this.log('info', `Epoch ${epoch}/${this.plan.epochs}: ${batches.length} steps`);
    else this.log('info', `Epoch ${epoch}/${this.plan.epochs}: continuing at step ${start + 1} of ${batches.length}`);
    let position = start;
    let savedAt = start;
    while (position < batches.length) {
      if (this.stopRequested) break;
      // Train up to the next save point, so a periodic save happens between two train() calls.
      let end = saveEvery > 0 ? Math.min(batches.length, (Math.floor(position / saveEvery) + 1) * saveEvery) : batches.length;
      // A save still being written overlaps one step only, and the step after waits for it: training never
      // runs more than one step past the newest committed checkpoint, so a stop or a kill costs no more.
      const overlappingSave = this.pendingSave !== null;
      if (overlappingSave) end = Math.min(end, position + 1);
      const chunkStart = position;
      this.chunkAbort = new AbortController();
      const outcome = await this.trainer.train(this.trainData, batches.slice(chunkStart, end), {
        signal: this.chunkAbort.signal,
        onStep: (result) => this.onStep(epoch, chunkStart, batches.length, result),
      });
      this.chunkAbort = null;
      position = chunkStart + outcome.steps.length;
      if (overlappingSave) await this.settleSave();
      if (outcome.cancelled || this.stopRequested) break;
      if (saveEvery > 0 && position % saveEvery === 0 && position < batches.length) {
        await this.saveCheckpoint(epoch, position, null);
        savedAt = position;
      }
    }
    if (!this.stopRequested || position >= batches.length) return false;
    // Stopped inside the epoch: save where it stands, unless nothing moved since the last save.
    if (position > savedAt) await this.saveCheckpoint(epoch, position, null);
    else this.log('info', `Nothing trained since ${this.lastCheckpoint ?? 'the start'}; no new checkpoint needed`);
    return true;
  }

  private onStep(epoch: number, chunkStart: number, stepsPerEpoch: number, result: StepProgress): void {
    this.step = chunkStart + result.batch_index + 1;
    this.globalStep = result.global_step;
    this.lastLoss = result.loss;
    if (result.finite) {
      this.epochLoss.sum += result.loss;
      this.epochLoss.count += 1;
    }
    if (!result.finite) this.log('warning', `Step ${this.globalStep}: loss or gradient not finite; update skipped`);
    const utterancesPerS = result.seconds > 0 ? result.utterances / result.seconds : 0;
    const report = (): void => this.send({
      type: 'progress',
      payload: {
        run_id: this.plan.run_id,
        epoch,
        step: this.step,
        global_step: result.global_step,
        steps_per_epoch: stepsPerEpoch,
        loss: result.loss,
        lr: result.lr,
        utterances_per_s: utterancesPerS,
      },
    });
    if (this.heldProgress) this.heldProgress.push(report);
    else report();
    this.pendingMetrics.push({
      kind: 'step',
      run_id: this.plan.run_id,
      epoch,
      step: this.step,
      global_step: result.global_step,
      loss: result.loss,
      lr: result.lr,
      utterances_per_s: utterancesPerS,
      time: new Date().toISOString(),
    });
  }

  /** Validation, the epoch checkpoint and its metrics line. */
  private async endEpoch(epoch: number): Promise<void> {
    let metrics: CheckpointMetrics = {};
    const every = this.config.training.val_every_epochs;
    const validate = epoch % every === 0 || epoch === this.plan.epochs;
    if (this.valData && validate) {
      const valBatches = this.valData.planEpoch(
        { batch_size: this.plan.batch_size, max_frames: this.config.training.max_frames, seed: this.dataSeed, shuffle: false },
        0,
      );
      const result = await this.trainer.evaluate(this.valData, valBatches);
      metrics = { val_loss: result.loss, val_cer: result.cer, val_wer: result.wer };
      this.send({ type: 'metrics', payload: { epoch, val_loss: result.loss, val_cer: result.cer, val_wer: result.wer } });
      this.log(
        'info',
        `Epoch ${epoch}: val loss ${result.loss.toFixed(4)}, CER ${(result.cer * 100).toFixed(2)}%, WER ${(result.wer * 100).toFixed(2)}%`,
      );
      if (result.hypotheses.length > 0) {
        this.log('debug', `Sample: ref "${result.references[0]}" → hyp "${result.hypotheses[0]}"`);
      }
      this.pendingMetrics.push({
        kind: 'epoch',
        run_id: this.plan.run_id,
        epoch,
        global_step: this.globalStep,
        train_loss: this.epochLoss.count > 0 ? this.epochLoss.sum / this.epochLoss.count : null,
        val_loss: result.loss,
        val_cer: result.cer,
        val_wer: result.wer,
        time: new Date().toISOString(),
      });
    } else if (!this.valData) {
      this.log('warning', `Epoch ${epoch}: no validation utterances; val metrics skipped`);
    }
    await this.saveCheckpoint(epoch, this.step, metrics);
    await this.flushMetrics();
  }

  /**
   * Saves through the addon, commits through the store (sidecar, links, retention), reports it. Training
   * goes on as soon as the addon has copied the state: the file is written off the training thread and
   * committed when durable. One save is in flight at most; finish() waits for it, and its failure fails
   * the run at the next save or at the end.
   */
  private async saveCheckpoint(epoch: number, step: number, metrics: CheckpointMetrics | null): Promise<void> {
    await this.settleSave();
    const { plan } = this;
    const epochEnd = metrics !== null;
    const name = await this.store.nameForSave(plan.model_name, plan.dataset_name, epoch, epochEnd ? null : step);
    const snapshot = runConfigSnapshot(this.config, plan.model_name, plan.dataset_name);
    const globalStep = this.trainer.globalStep;
    let snapshotTaken: () => void = () => undefined;
    const taken = new Promise<void>((resolve) => (snapshotTaken = resolve));
    const written = this.trainer.save(this.store.pathOf(name), {
      epoch,
      step,
      global_step: globalStep,
      data_seed: this.dataSeed,
      data_epoch: epoch,
      batch_position: step,
      config: { ...snapshot, run_id: plan.run_id, batch_size: plan.batch_size } as unknown as JsonObject,
      metrics: (metrics ?? {}) as JsonObject,
    }, { onSnapshot: () => snapshotTaken() });
    const held: Array<() => void> = [];
    this.heldProgress = held;
    const releaseProgress = (): void => {
      if (this.heldProgress === held) this.heldProgress = null;
      for (const report of held.splice(0)) report();
    };
    const committed = written
      .then(() => this.commitCheckpoint(name, epoch, step, globalStep, metrics))
      .finally(releaseProgress);
    // Awaited by settleSave(); until then a failure must not surface as an unhandled rejection.
    committed.catch(() => undefined);
    this.pendingSave = committed;
    await Promise.race([taken, written]);
  }

  /** Waits for the save in flight, if any; rethrows its failure. */
  private async settleSave(): Promise<void> {
    const pending = this.pendingSave;
    this.pendingSave = null;
    if (pending) await pending;
  }

  private async commitCheckpoint(
    name: string,
    epoch: number,
    step: number,
    globalStep: number,
    metrics: CheckpointMetrics | null,
  ): Promise<void> {
    const { plan } = this;
    const result = await this.store.commit({
      name,
      model: plan.model_name,
      dataset: plan.dataset_name,
      step,
      global_step: globalStep,
      metrics: metrics ?? {},
      config_hash: runConfigHash(this.config, plan.model_name, plan.dataset_name),
      run_id: plan.run_id,
      resumed_from: plan.resumed_from,
      model_config: { ...plan.model },
      batch_size: plan.batch_size,
      retain: { keep: this.config.training.checkpoint_retention, resumedFrom: plan.resumed_from },
    });
    this.lastCheckpoint = name;
    const sizeMb = Math.round((result.sidecar.size / (1024 * 1024)) * 100) / 100;
    this.send({ type: 'checkpoint', payload: { name, epoch, step, size_mb: sizeMb } });
    if (result.deleted.length > 0) this.log('info', `Retention removed ${result.deleted.join(', ')}`);
  }

  private async finish(state: 'completed' | 'stopped'): Promise<RunOutcome> {
    await this.settleSave();
    // Copies to paths.backup ran beside training; the process must not exit in the middle of one.
    await this.store.backupsIdle();
    this.setState(state);
    this.log(
      'info',
      state === 'completed'
        ? `Training completed: ${this.plan.epochs} epochs, global step ${this.globalStep}`
        : `Training stopped at epoch ${this.epoch}, step ${this.step}; resume continues from ${this.lastCheckpoint ?? 'the start'}`,
    );
    return { state, epoch: this.epoch, step: this.step, global_step: this.globalStep, last_checkpoint: this.lastCheckpoint };
  }

  private flushMetrics(): Promise<void> {
    if (this.pendingMetrics.length > 0) {
      const records = this.pendingMetrics.splice(0);
      // Appends are chained so lines keep their order even when a flush is slow.
      this.metricsWrite = this.metricsWrite
        .then(() => this.metricsLog.append(records))
        .catch((err: unknown) => this.log('warning', `Could not append ${this.metricsLog.path}: ${(err as Error).message}`));
    }
    return this.metricsWrite;
  }

  private setState(state: TrainingState): void {
    this.state = state;
    this.send({ type: 'status', payload: this.status() });
  }

  private log(level: LogLevel, message: string): void {
    this.send(logEvent(level, message));
  }

  private send(event: TrainingEvent): void {
    this.emit('event', event);
  }
}
