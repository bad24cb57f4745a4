/** The part of a config that shapes a training run, as recorded in checkpoints and hashed. */
import path from 'node:path';
import type { AsrConfig, TrainingConfig } from './schema.js';
import { resolveModelDimensions, type ModelDimensions } from './models.js';
import { configHash } from './hash.js';
import { AsrTrainerError } from '../errors.js';

export interface RunConfigSnapshot {
  model_name: string;
  model: ModelDimensions;
  dataset_name: string;
  /** val_list is the file's name only, for the reason below. */
  dataset: { val_fraction: number; val_list: string | null; max_skipped_fraction: number };
  training: TrainingConfig;
}

/**
 * Model dimensions, split settings and training settings of one (model, dataset) pair. Paths, the
 * server section and the token are left out: moving folders or changing the port is not a new run,
 * and a token must never reach a checkpoint.
 */
export function runConfigSnapshot(config: AsrConfig, modelName: string, datasetName: string): RunConfigSnapshot {
  const dataset = Object.hasOwn(config.datasets, datasetName) ? config.datasets[datasetName] : undefined;
  if (!dataset) {
    const known = Object.keys(config.datasets);
    throw new AsrTrainerError(
      'E_UNKNOWN_DATASET',
      `Unknown dataset '${datasetName}'. Configured datasets: ${known.join(', ') || '(none)'}`,
      { dataset_name: datasetName, known },
    );
  }
  return {
    model_name: modelName,
    model: resolveModelDimensions(config, modelName),
    dataset_name: datasetName,
    dataset: {
      val_fraction: dataset.val_fraction,
      val_list: dataset.val_list === undefined ? null : path.basename(dataset.val_list),
      max_skipped_fraction: dataset.max_skipped_fraction,
    },
    training: { ...config.training },
  };
}

/** `configHash(runConfigSnapshot(...))`. */
export function runConfigHash(config: AsrConfig, modelName: string, datasetName: string): string {
  return configHash(runConfigSnapshot(config, modelName, datasetName));
}
