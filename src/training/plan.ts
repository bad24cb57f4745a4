import { randomBytes } from 'node:crypto';
import type { AsrConfig } from '../config/schema.js';
import { resolveModelDimensions, type ModelDimensions } from '../config/models.js';
import { runConfigSnapshot } from '../config/snapshot.js';
import { AsrTrainerError } from '../errors.js';
import {
  CheckpointStore,
  backupOptions,
  checkResumeCompatibility,
  type CheckpointSidecar,
  type ResolvedCheckpoint,
} from '../checkpoints/index.js';
import { checkDatasetReadable } from '../data/dataset.js';
import type { TrainRequest } from '../contract/index.js';

export interface PlanOptions {
  /** POST /api/train/resume: no checkpoint to resume is an error (E_NO_CHECKPOINT), not a fresh start. */
  mustResume?: boolean;
  runId?: string;
}

/** What a start will do, known before any data is loaded. */
export interface RunPlan {
  run_id: string;
  model_name: string;
  dataset_name: string;
  /** Total epochs. */
  epochs: number;
  /** The epoch the run trains first (1-based). */
  start_epoch: number;
  /** Batches of `start_epoch` already trained (a mid-epoch checkpoint); 0 otherwise. */
  start_step: number;
  /** The checkpoint's global step, 0 for a fresh start. */
  start_global_step: number;
  resumed_from: string | null;
  batch_size: number;
  /** The training set is cut to this many utterances; null for all. */
  limit_samples: number | null;
  model: ModelDimensions;
  /**
   * Early stopping's memory across resumes: the lowest val CER of this run's lineage so far and the epoch
   * that reached it (from the resumed checkpoint's metrics); null on a fresh start.
   */
  best_val: BestValidation | null;
  /** Said to the user: the run goes ahead, but something is not as asked (e.g. not an exact resume). */
  warnings: string[];
  request: TrainRequest;
}

export interface BestValidation {
  cer: number;
  epoch: number;
}

/** Metric keys every checkpoint carries for early stopping (CheckpointPolicy adds them to each save). */
export const BEST_VAL_CER = 'best_val_cer';
export const BEST_VAL_CER_EPOCH = 'best_val_cer_epoch';

/**
 * The best validation a checkpoint knows of: the one its metrics carry, else (sidecars from before these
 * keys) its own val CER when it is an epoch's end.
 */
export function bestValidationOf(sidecar: CheckpointSidecar): BestValidation | null {
  const cer = sidecar.metrics[BEST_VAL_CER];
  const epoch = sidecar.metrics[BEST_VAL_CER_EPOCH];
  if (typeof cer === 'number' && typeof epoch === 'number') return { cer, epoch };
  const own = sidecar.metrics.val_cer;
  return typeof own === 'number' && sidecar.kind !== 'step' ? { cer: own, epoch: sidecar.epoch } : null;
}

export function newRunId(): string {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** The limit on training utterances a request asks for (the smaller when both are given). */
export function sampleLimit(config: AsrConfig, request: TrainRequest): number | null {
  const limits = [
    request.limit_samples ?? null,
    request.lightweight ? config.training.lightweight_samples : null,
  ].filter((n): n is number => n !== null);
  return limits.length > 0 ? Math.min(...limits) : null;
}

/**
 * Resolves a request against the config and the checkpoint folder: which model and dataset, which
 * checkpoint it resumes (if any), and the epochs left. Reads only; loads no data and takes no lock.
 */
export async function planRun(config: AsrConfig, request: TrainRequest, options: PlanOptions = {}): Promise<RunPlan> {
  const model = resolveModelDimensions(config, request.model_name);
  runConfigSnapshot(config, request.model_name, request.dataset_name); // throws E_UNKNOWN_DATASET listing the known ones
  const epochs = request.epochs ?? config.training.epochs;
  const batchSize = request.batch_size ?? config.training.batch_size;
  const specific = request.specific_checkpoint ?? null;
  const resume =
    specific !== null || options.mustResume === true || (request.resume_from_checkpoint ?? config.training.auto_resume);
  const plan: RunPlan = {
    run_id: options.runId ?? newRunId(),
    model_name: request.model_name,
    dataset_name: request.dataset_name,
    epochs,
    start_epoch: 1,
    start_step: 0,
    start_global_step: 0,
    resumed_from: null,
    batch_size: batchSize,
    limit_samples: sampleLimit(config, request),
    model,
    best_val: null,
    warnings: [],
    request,
  };
  if (!resume) {
    checkDatasetReadable(config, request.dataset_name);
    return plan;
  }

  const store = new CheckpointStore({ dir: config.paths.checkpoints, backup: backupOptions(config) });
  let resolved: ResolvedCheckpoint;
  try {
    resolved = await store.resolveForResume({ model: request.model_name, dataset: request.dataset_name, specific });
  } catch (err) {
    // Auto-resume with nothing to resume is a fresh start; /api/train/resume makes it an error.
    if (err instanceof AsrTrainerError && err.code === 'E_NO_CHECKPOINT' && !options.mustResume && specific === null) {
      checkDatasetReadable(config, request.dataset_name);
      return plan;
    }
    throw err;
  }
  // After the checkpoint: "no checkpoint" is the answer to a resume even when the data is gone too.
  checkDatasetReadable(config, request.dataset_name);
  const { sidecar } = resolved;
  const compatibility = checkResumeCompatibility(
    sidecar.name,
    { model_config: sidecar.model_config ?? { ...model }, batch_size: sidecar.batch_size ?? null },
    { model_config: { ...model }, batch_size: batchSize },
  );
  // An average carries its last input's position: an epoch end.
  const epochEnd = sidecar.kind !== 'step';
  const startEpoch = epochEnd ? sidecar.epoch + 1 : sidecar.epoch;
  if (startEpoch > epochs) {
    throw new AsrTrainerError(
      'E_CHECKPOINT_PAST_EPOCHS',
      `Checkpoint '${sidecar.name}' has already trained ${epochEnd ? sidecar.epoch : sidecar.epoch - 1} of the requested ${epochs} epochs (epochs is the total, counted across resumes): ask for more epochs (e.g. epochs: ${startEpoch}), or start without resuming`,
      { checkpoint: sidecar.name, checkpoint_epoch: sidecar.epoch, epochs },
    );
  }
  return {
    ...plan,
    start_epoch: startEpoch,
    start_step: epochEnd ? 0 : sidecar.step,
    start_global_step: sidecar.global_step,
    resumed_from: sidecar.name,
    best_val: bestValidationOf(sidecar),
    warnings: [
      ...new Set([
        ...resolved.warnings,
        ...compatibility.warnings,
        ...(sidecar.kind === 'average' ? [averageResumeWarning(sidecar, startEpoch)] : []),
      ]),
    ],
  };
}

/** What a resume from an average keeps and what it restarts (asr/checkpoint_average.h drops the moments). */
function averageResumeWarning(sidecar: CheckpointSidecar, startEpoch: number): string {
  const inputs = sidecar.averaged_from ?? [];
  return `Checkpoint '${sidecar.name}' is an average of ${inputs.length} checkpoints (${inputs.join(', ')}): training continues from the averaged weights at epoch ${startEpoch}, and the learning-rate schedule continues from global step ${sidecar.global_step}, but the optimizer's moments (AdamW's gradient averages) restart from zero, since they belonged to other weights; this is not an exact resume`;
}
