/**
 * The run as Prometheus reads it (GET /metrics): gauges and counters that follow the supervisor's events,
 * as the WebSocket hub does, plus prom-client's default metrics of this server process. Each server has
 * a registry of its own, not prom-client's global one, so two servers in one process keep their own numbers.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  TrainingStateSchema,
  type CheckpointPayload,
  type ProgressPayload,
  type StatusPayload,
  type TrainingEvent,
  type TrainingState,
} from '../contract/index.js';

const STATES: TrainingState[] = TrainingStateSchema.anyOf.map((literal) => literal.const);
/** A gap between two progress events longer than this is a pause (validation, a save), not a step. */
const MAX_STEP_SECONDS = 120;
const MIB = 1024 * 1024;

export class RunMetrics {
  readonly registry = new Registry();
  private readonly state = this.gauge('asr_trainer_run_state', 'The run state: 1 for the current one', ['state']);
  private readonly info = this.gauge('asr_trainer_run_info', 'The current or last run (always 1)', [
    'run_id',
    'model',
    'dataset',
  ]);
  private readonly worldSize = this.gauge('asr_trainer_world_size', 'Worker processes training the run');
  private readonly restarts = this.gauge(
    'asr_trainer_restarts',
    "Times the run's worker group restarted from its latest checkpoint (distributed.max_restarts)",
  );
  private readonly epoch = this.gauge('asr_trainer_epoch', 'The epoch being trained');
  private readonly globalStep = this.gauge('asr_trainer_global_step', 'Optimizer steps since the run began');
  private readonly loss = this.gauge('asr_trainer_loss', "The last step's training loss");
  private readonly learningRate = this.gauge('asr_trainer_learning_rate', "The last step's learning rate");
  private readonly utterancesPerSecond = this.gauge(
    'asr_trainer_utterances_per_second',
    'Utterances per second of the last step (the whole global batch, all ranks)',
  );
  private readonly stepSeconds = this.gauge(
    'asr_trainer_step_seconds',
    "Each rank's time for the last step (the slowest sets the pace); one process: the interval between its steps",
    ['rank'],
  );
  private readonly checkpoints = new Counter({
    name: 'asr_trainer_checkpoints_committed_total',
    help: 'Checkpoints committed (file, sidecar and links written) since the server started',
    registers: [this.registry],
  });
  private readonly checkpointBytes = this.gauge(
    'asr_trainer_last_checkpoint_size_bytes',
    'Size of the newest committed checkpoint',
  );
  private readonly checkpointTime = this.gauge(
    'asr_trainer_last_checkpoint_timestamp_seconds',
    'When the newest checkpoint was committed (Unix time): alert on its age',
  );
  private readonly checkpointSaveSeconds = new Histogram({
    name: 'asr_trainer_checkpoint_save_seconds',
    help: "A checkpoint save from the state's snapshot to its commit (training goes on while the file is written)",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  private readonly valLoss = this.gauge('asr_trainer_val_loss', "The last epoch's validation loss");
  private readonly valCer = this.gauge('asr_trainer_val_cer_ratio', "The last epoch's validation CER (0.046 is 4.6 %)");
  private readonly valWer = this.gauge('asr_trainer_val_wer_ratio', "The last epoch's validation WER (0.046 is 4.6 %)");
  /** The moving average's figures (training.ema_decay > 0): what transcribe decodes with. No sample without one. */
  private readonly emaGauges = {
    val_loss_ema: this.gauge(
      'asr_trainer_val_loss_ema',
      "The last epoch's validation loss of the weights' moving average",
    ),
    val_cer_ema: this.gauge(
      'asr_trainer_val_cer_ema_ratio',
      "The last epoch's validation CER of the weights' moving average",
    ),
    val_wer_ema: this.gauge(
      'asr_trainer_val_wer_ema_ratio',
      "The last epoch's validation WER of the weights' moving average",
    ),
  };

  private runId: string | null = null;
  private ranks = 0;
  /** One process reports no rank times: its step time is the interval between its progress events. */
  private lastProgress: { global_step: number; at: number } | null = null;

  constructor(initial: StatusPayload) {
    collectDefaultMetrics({ register: this.registry });
    for (const gauge of Object.values(this.emaGauges)) gauge.remove();
    this.onStatus(initial);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  observe(event: TrainingEvent): void {
    switch (event.type) {
      case 'status':
        this.onStatus(event.payload);
        break;
      case 'progress':
        this.onProgress(event.payload);
        break;
      case 'checkpoint':
        this.onCheckpoint(event.payload);
        break;
      case 'metrics':
        this.valLoss.set(event.payload.val_loss);
        this.valCer.set(event.payload.val_cer);
        this.valWer.set(event.payload.val_wer);
        for (const [key, gauge] of Object.entries(this.emaGauges)) {
          const value = event.payload[key as keyof typeof this.emaGauges];
          // A run without a moving average shows none, rather than an earlier run's figure.
          if (value === undefined) gauge.remove();
          else gauge.set(value);
        }
        break;
      case 'log':
        break;
    }
  }

  private onStatus(status: StatusPayload): void {
    for (const state of STATES) this.state.set({ state }, state === status.state ? 1 : 0);
    this.worldSize.set(status.world_size);
    this.restarts.set(status.restarts);
    if (status.run_id !== this.runId) {
      // A new run: the last run's per-step figures say nothing about it.
      this.runId = status.run_id;
      this.info.reset();
      this.stepSeconds.reset();
      this.ranks = 0;
      this.lastProgress = null;
      if (status.run_id) {
        this.info.set({ run_id: status.run_id, model: status.model_name ?? '', dataset: status.dataset_name ?? '' }, 1);
      }
    }
    if (status.epoch !== null) this.epoch.set(status.epoch);
    if (status.global_step !== null) this.globalStep.set(status.global_step);
    if (status.loss !== null) this.loss.set(status.loss);
    if (status.lr !== null) this.learningRate.set(status.lr);
  }

  private onProgress(progress: ProgressPayload): void {
    this.epoch.set(progress.epoch);
    this.globalStep.set(progress.global_step);
    this.loss.set(progress.loss);
    this.learningRate.set(progress.lr);
    this.utterancesPerSecond.set(progress.utterances_per_s);
    const now = performance.now();
    const previous = this.lastProgress;
    this.lastProgress = { global_step: progress.global_step, at: now };
    if (progress.rank_step_s) {
      // A restart at another world size leaves no gauge for a rank that is gone.
      if (progress.rank_step_s.length !== this.ranks) this.stepSeconds.reset();
      this.ranks = progress.rank_step_s.length;
      progress.rank_step_s.forEach((seconds, rank) => this.stepSeconds.set({ rank: String(rank) }, seconds));
      return;
    }
    if (previous && progress.global_step === previous.global_step + 1) {
      const seconds = (now - previous.at) / 1000;
      if (seconds < MAX_STEP_SECONDS) this.stepSeconds.set({ rank: '0' }, seconds);
    }
  }

  private onCheckpoint(checkpoint: CheckpointPayload): void {
    this.checkpoints.inc();
    this.checkpointBytes.set(Math.round(checkpoint.size_mb * MIB));
    this.checkpointTime.set(Date.now() / 1000);
    if (checkpoint.save_s !== undefined) this.checkpointSaveSeconds.observe(checkpoint.save_s);
  }

  private gauge<L extends string = never>(name: string, help: string, labelNames: L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}
