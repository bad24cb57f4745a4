/**
 * The one status model of a run (the contract's StatusPayload) and the one way events move it. The
 * supervisor owns the server's status; a TrainingRun used on its own (CLI, scripts) keeps one the same way,
 * so both answer `status()` from the same rules.
 */
import type { ProgressPayload, RunFailure, StatusPayload, TrainingState } from '../contract/index.js';
import type { RunPlan } from './plan.js';

export function idleStatus(): StatusPayload {
  return {
    state: 'idle',
    run_id: null,
    model_name: null,
    dataset_name: null,
    epoch: null,
    epochs: null,
    step: null,
    global_step: null,
    loss: null,
    lr: null,
    resumed_from: null,
    world_size: 1,
    restarts: 0,
  };
}

/** A planned run that has not trained a step yet. */
export function plannedStatus(plan: RunPlan, state: TrainingState): StatusPayload {
  return {
    ...idleStatus(),
    state,
    run_id: plan.run_id,
    model_name: plan.model_name,
    dataset_name: plan.dataset_name,
    epoch: plan.start_epoch,
    epochs: plan.epochs,
    step: plan.start_step,
    global_step: plan.start_global_step,
    resumed_from: plan.resumed_from,
  };
}

/** The status after a step's progress event. */
export function withProgress(status: StatusPayload, progress: ProgressPayload): StatusPayload {
  return {
    ...status,
    epoch: progress.epoch,
    step: progress.step,
    global_step: progress.global_step,
    loss: progress.loss,
    lr: progress.lr,
  };
}

/**
 * The status in a new state; `error` says why a run failed (or was killed), `reason` why a completed run
 * ended early; each is dropped when not given.
 */
export function withState(
  status: StatusPayload,
  state: TrainingState,
  error?: RunFailure,
  reason?: string,
): StatusPayload {
  const next: StatusPayload = { ...status, state };
  delete next.error;
  delete next.reason;
  if (error) next.error = error;
  if (reason) next.reason = reason;
  return next;
}
