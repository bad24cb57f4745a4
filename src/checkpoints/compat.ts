/**
 * Whether a checkpoint can be resumed with the requested settings. Pure: the caller passes the saved
 * settings (from the sidecar, or from the addon's readCheckpointMeta).
 */
import { AsrTrainerError } from '../errors.js';
import type { ModelConfigRecord } from './sidecar.js';

export interface ResumeSettings {
  model_config: ModelConfigRecord;
  batch_size?: number | null;
}

export interface ResumeCompatibility {
  /** Said to the user: the resume goes ahead but is not exact. */
  warnings: string[];
}

function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number')
    return a === b || Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a));
  return a === b;
}

function shown(value: unknown): string {
  return value === undefined ? '(not set)' : JSON.stringify(value);
}

/**
 * Throws E_CHECKPOINT_INCOMPATIBLE naming every model-config key that differs (the weights would not
 * fit, or would mean something else); a different batch size is allowed, with a warning.
 */
export function checkResumeCompatibility(
  checkpointName: string,
  saved: ResumeSettings,
  requested: ResumeSettings,
): ResumeCompatibility {
  const keys = [...new Set([...Object.keys(saved.model_config), ...Object.keys(requested.model_config)])].sort();
  const differing = keys.filter((key) => !same(saved.model_config[key], requested.model_config[key]));
  if (differing.length > 0) {
    const list = differing
      .map(
        (key) =>
          `${key} (checkpoint ${shown(saved.model_config[key])}, requested ${shown(requested.model_config[key])})`,
      )
      .join(', ');
    throw new AsrTrainerError(
      'E_CHECKPOINT_INCOMPATIBLE',
      `Checkpoint '${checkpointName}' was trained with a different model config: ${list}; resume with the checkpoint's model settings, or start without resuming`,
      { checkpoint: checkpointName, differing_keys: differing },
    );
  }
  const warnings: string[] = [];
  const before = saved.batch_size ?? null;
  const after = requested.batch_size ?? null;
  if (before !== null && after !== null && before !== after) {
    warnings.push(
      `Resuming '${checkpointName}' with batch_size ${after} instead of ${before}: training continues, but the resume is no longer exact (batches and steps differ from an uninterrupted run)`,
    );
  }
  return { warnings };
}
