/**
 * Checkpoint averaging (`POST /api/checkpoints/average`, `asr-trainer average`): the mean of a run's epoch
 * checkpoints committed to the store as `{model}-{dataset}-avg-{first}-{last}.pt`, with a sidecar naming
 * its inputs (`averaged_from`) and its own validation figures. The store picks and verifies the inputs and
 * commits the result (src/checkpoints/); the addon's averaging and the evaluation run in a process of their
 * own (./process.ts, ./worker.ts), so no LibTorch work runs in the API process.
 */
import { rm } from 'node:fs/promises';
import { CheckpointStore, backupOptions, type CheckpointLock, type CheckpointMetrics } from '../checkpoints/index.js';
import type { AsrConfig } from '../config/schema.js';
import type { AverageRequest, AverageResult } from '../contract/index.js';
import { assertDatasetPresent } from '../data/dataset.js';
import { AsrTrainerError, isAsrTrainerError } from '../errors.js';
import type { Log } from '../log.js';
import { newRunId } from '../training/plan.js';
import { averageInProcess } from './process.js';

export interface AverageOptions {
  log?: Log;
  /** Extra environment for the averaging process. */
  env?: NodeJS.ProcessEnv;
}

export async function averageCheckpoints(
  config: AsrConfig,
  request: AverageRequest,
  options: AverageOptions = {},
): Promise<AverageResult> {
  const warnings: string[] = [];
  // Warnings go into the answer too: the caller of the API sees what was skipped without the server's log.
  const log: Log = (level, message) => {
    if (level === 'warning') warnings.push(message);
    options.log?.(level, message);
  };
  const { model_name: model, dataset_name: dataset } = request;
  // Before any file is read: the average is scored on this dataset's validation split.
  assertDatasetPresent(config, dataset);
  const store = new CheckpointStore({ dir: config.paths.checkpoints, log, backup: backupOptions(config) });
  const lock = await holdLock(store, model, dataset);
  try {
    const inputs = await store.selectAverageInputs({
      model,
      dataset,
      ...(request.names !== undefined ? { names: request.names } : {}),
      ...(request.last_n !== undefined ? { last_n: request.last_n } : {}),
    });
    const last = inputs[inputs.length - 1]!.sidecar!;
    const name = await store.nameForAverage(
      model,
      dataset,
      inputs[0]!.parsed.epoch,
      inputs[inputs.length - 1]!.parsed.epoch,
    );
    const output = store.pathOf(name);
    const averagedFrom = inputs.map((s) => s.entry.name);
    log('info', `Averaging ${averagedFrom.join(', ')} into '${name}'`);
    const outcome = await averageInProcess(
      {
        config,
        inputs: averagedFrom.map((n) => store.pathOf(n)),
        output,
        dataset_name: dataset,
        batch_size: last.batch_size ?? config.training.batch_size,
      },
      log,
      options.env,
    ).catch(async (err: unknown) => {
      // Uncommitted (no sidecar): nothing vouches for it, so it goes now rather than at the next retention.
      await rm(output, { force: true });
      throw err;
    });
    const metrics: CheckpointMetrics = outcome.score
      ? { val_loss: outcome.score.val_loss, val_cer: outcome.score.val_cer, val_wer: outcome.score.val_wer }
      : {};
    if (!outcome.score) log('warning', `Dataset '${dataset}' has no validation utterances: '${name}' has no val CER`);
    const committed = await store.commit({
      name,
      model,
      dataset,
      step: last.step,
      global_step: last.global_step,
      metrics,
      config_hash: last.config_hash,
      run_id: `average-${newRunId()}`,
      resumed_from: null,
      averaged_from: averagedFrom,
      ...(last.model_config !== undefined ? { model_config: last.model_config } : {}),
      ...(last.batch_size !== undefined ? { batch_size: last.batch_size } : {}),
    });
    return {
      name,
      averaged_from: averagedFrom,
      epoch: committed.sidecar.epoch,
      global_step: committed.sidecar.global_step,
      metrics,
      is_best: committed.best === name,
      size_mb: Math.round((committed.sidecar.size / (1024 * 1024)) * 100) / 100,
      warnings,
    };
  } finally {
    await lock.release();
  }
}

/**
 * The pair's writer lock, held for the whole average. Averaging only reads committed checkpoints and
 * writes a new name, yet it needs the lock: a trainer's retention could delete an input between its
 * selection and its read, and would remove the averaged `.pt` as an "incomplete save" while its sidecar
 * waits for the evaluation; and the commit moves the pair's `best` link, which only one writer may do.
 * So while a run trains this pair, averaging answers E_LOCKED (409) instead of racing it.
 */
async function holdLock(store: CheckpointStore, model: string, dataset: string): Promise<CheckpointLock> {
  try {
    return await store.acquireLock(model, dataset);
  } catch (err) {
    if (isAsrTrainerError(err) && err.code === 'E_LOCKED') {
      throw new AsrTrainerError(
        'E_LOCKED',
        `Cannot average now: ${err.message}, or average once it has ended`,
        err.details,
      );
    }
    throw err;
  }
}
