/**
 * Scoring a checkpoint on named splits (`asr-trainer evaluate`, POST /api/evaluate): the request is
 * checked here, before any process starts (an unknown model, dataset or split is the caller's mistake and
 * answers at once), then one evaluation process scores it (./process.ts).
 */
import type { AsrConfig } from '../config/schema.js';
import type { EvaluateRequest, EvaluateResult } from '../contract/datasets.js';
import { loadDataset, splitsNamed } from '../data/dataset.js';
import { AsrTrainerError } from '../errors.js';
import type { Log } from '../log.js';
import { resolveTranscribeCheckpoint } from '../transcribe/index.js';
import { evaluateInProcess } from './process.js';

export { scoreSplits } from './score.js';

/** The split scored when a request names none: the held-out sets. */
export const DEFAULT_EVALUATION_SPLIT = 'test';

export async function evaluateCheckpoint(
  config: AsrConfig,
  request: EvaluateRequest,
  log?: Log,
): Promise<EvaluateResult> {
  if (!Object.hasOwn(config.models, request.model_name)) {
    throw new AsrTrainerError(
      'E_UNKNOWN_MODEL',
      `Unknown model '${request.model_name}'. Configured models: ${Object.keys(config.models).join(', ')}`,
      { model_name: request.model_name },
    );
  }
  const split = request.split ?? DEFAULT_EVALUATION_SPLIT;
  splitsNamed(loadDataset(config, request.dataset_name), split);
  const checkpoint = await resolveTranscribeCheckpoint(config, {
    model_name: request.model_name,
    dataset_name: request.dataset_name,
    ...(request.checkpoint !== undefined ? { checkpoint: request.checkpoint } : {}),
  });
  const beam = request.beam ?? config.training.val_beam;
  const splits = await evaluateInProcess(
    { config, dataset_name: request.dataset_name, split, checkpoint_path: checkpoint.path, beam },
    log,
  );
  return { checkpoint: checkpoint.name, dataset_name: request.dataset_name, beam, splits };
}
