/**
 * When a run saves, and how a save lands; the training loop calls it and keeps no save state of its own.
 *
 * - Periodic saves every `training.save_every_steps` batches: the loop trains in chunks that end at save
 *   points (`chunkEnd`), and saves where `isDue` says.
 * - A save is snapshotted by the addon, written off the training thread while the next step trains, then
 *   committed through the store (sidecar, links, retention) and reported as a `checkpoint` event.
 * - One save is in flight at most, and it overlaps exactly one step: the step after waits for it, so
 *   training never runs more than one step past the newest committed checkpoint.
 * - The overlapping step's progress is held until that save commits, so what a client has seen is never
 *   more than one save interval ahead of what a resume can restore.
 * - In a data-parallel world rank 0 writes and commits, and every rank then passes a barrier: the other
 *   ranks go on only after the commit, and no save overlaps a step (so every rank trains the same chunks).
 */
import type { CheckpointMetrics, CheckpointStore } from '../checkpoints/index.js';
import type { AsrConfig } from '../config/schema.js';
import { runConfigHash, runConfigSnapshot } from '../config/snapshot.js';
import type { TrainingEvent } from '../contract/index.js';
import type { JsonObject, Trainer, World } from '../native/types.js';
import { logEvent } from './events.js';
import type { RunPlan } from './plan.js';

export interface CheckpointPolicyOptions {
  config: AsrConfig;
  plan: RunPlan;
  store: CheckpointStore;
  trainer: Trainer;
  /** Saved with each checkpoint so a resume continues the same batch order. */
  dataSeed: number;
  /** The run's world, when it has one (its size is recorded in each sidecar). */
  world?: World | null;
  send: (event: TrainingEvent) => void;
}

export class CheckpointPolicy {
  private readonly saveEvery: number;
  private pendingSave: Promise<void> | null = null;
  /** Progress reports of the step that overlaps the save in flight; null when no save is in flight. */
  private heldProgress: Array<() => void> | null = null;
  private newest: string | null;
  /** Metrics every save records beside its own (early stopping's best so far, see ./run.ts). */
  private carried: CheckpointMetrics = {};

  constructor(private readonly options: CheckpointPolicyOptions) {
    this.saveEvery = options.config.training.save_every_steps;
    this.newest = options.plan.resumed_from;
  }

  /** The newest checkpoint committed by this run, else the one it resumed from. */
  get lastCheckpoint(): string | null {
    return this.newest;
  }

  /**
   * Where a train() call that starts at batch `position` of `total` ends: the next periodic save point,
   * or one step on while a save is still being written (the loop settles it before the next call).
   */
  chunkEnd(position: number, total: number): number {
    const end =
      this.saveEvery > 0 ? Math.min(total, (Math.floor(position / this.saveEvery) + 1) * this.saveEvery) : total;
    return this.pendingSave !== null ? Math.min(end, position + 1) : end;
  }

  /** A periodic save is due after `position` of `total` batches (the epoch's end has its own save). */
  isDue(position: number, total: number): boolean {
    return this.saveEvery > 0 && position % this.saveEvery === 0 && position < total;
  }

  /** From now on every save also records these metrics (a step checkpoint too, so a resume from it knows them). */
  carry(metrics: CheckpointMetrics): void {
    this.carried = { ...metrics };
  }

  /** Sends a step's progress now, or when the save being written commits. */
  report(send: () => void): void {
    if (this.heldProgress) this.heldProgress.push(send);
    else send();
  }

  /**
   * Starts a save of `step` batches into `epoch` (`metrics` non-null: the epoch's end) and resolves once
   * the addon has copied the state, so training goes on while the file is written. The previous save is
   * settled first; this one's failure surfaces at the next `save` or `settle`. In a world (a collective:
   * every rank calls it) it resolves on every rank once rank 0 has committed.
   */
  async save(epoch: number, step: number, metrics: CheckpointMetrics | null): Promise<void> {
    const { world } = this.options;
    if (!world) return this.startSave(epoch, step, metrics);
    if (world.rank === 0) {
      await this.startSave(epoch, step, metrics);
      await this.settle();
    }
    await world.barrier();
  }

  /** Waits for the save in flight, if any; rethrows its failure. */
  async settle(): Promise<void> {
    const pending = this.pendingSave;
    this.pendingSave = null;
    if (pending) await pending;
  }

  private async startSave(epoch: number, step: number, metrics: CheckpointMetrics | null): Promise<void> {
    await this.settle();
    const startedAt = performance.now();
    const { plan, store, trainer, config } = this.options;
    const carried = { ...this.carried };
    const name = await store.nameForSave(plan.model_name, plan.dataset_name, epoch, metrics === null ? step : null);
    const snapshot = runConfigSnapshot(config, plan.model_name, plan.dataset_name);
    const globalStep = trainer.globalStep;
    let snapshotTaken: () => void = () => undefined;
    const taken = new Promise<void>((resolve) => (snapshotTaken = resolve));
    const written = trainer.save(
      store.pathOf(name),
      {
        epoch,
        step,
        global_step: globalStep,
        data_seed: this.options.dataSeed,
        data_epoch: epoch,
        batch_position: step,
        config: { ...snapshot, run_id: plan.run_id, batch_size: plan.batch_size } as unknown as JsonObject,
        metrics: { ...carried, ...(metrics ?? {}) } as JsonObject,
      },
      { onSnapshot: () => snapshotTaken() },
    );
    const held: Array<() => void> = [];
    this.heldProgress = held;
    const releaseProgress = (): void => {
      if (this.heldProgress === held) this.heldProgress = null;
      for (const send of held.splice(0)) send();
    };
    const committed = written
      .then(() => this.commit(name, epoch, step, globalStep, metrics, carried, startedAt))
      .finally(releaseProgress);
    // Awaited by settle(); until then a failure must not surface as an unhandled rejection.
    committed.catch(() => undefined);
    this.pendingSave = committed;
    await Promise.race([taken, written]);
  }

  private async commit(
    name: string,
    epoch: number,
    step: number,
    globalStep: number,
    metrics: CheckpointMetrics | null,
    carried: CheckpointMetrics,
    startedAt: number,
  ): Promise<void> {
    const { plan, store, config, send } = this.options;
    const result = await store.commit({
      name,
      model: plan.model_name,
      dataset: plan.dataset_name,
      step,
      global_step: globalStep,
      metrics: { ...carried, ...(metrics ?? {}) },
      config_hash: runConfigHash(config, plan.model_name, plan.dataset_name),
      run_id: plan.run_id,
      resumed_from: plan.resumed_from,
      model_config: { ...plan.model },
      batch_size: plan.batch_size,
      world_size: this.options.world?.size ?? 1,
      retain: { keep: config.training.checkpoint_retention, resumedFrom: plan.resumed_from },
    });
    this.newest = name;
    const sizeMb = Math.round((result.sidecar.size / (1024 * 1024)) * 100) / 100;
    const saveS = (performance.now() - startedAt) / 1000;
    send({ type: 'checkpoint', payload: { name, epoch, step, size_mb: sizeMb, save_s: saveS } });
    if (result.deleted.length > 0) send(logEvent('info', `Retention removed ${result.deleted.join(', ')}`));
  }
}
