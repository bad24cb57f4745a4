/**
 * `asr-trainer average`: averages epoch checkpoints into `{model}-{dataset}-avg-{first}-{last}.pt` (the
 * POST /api/checkpoints/average code path) and prints its validation figures. Without --model/--dataset
 * it averages the checkpoints of the most recent run, as `transcribe` picks its checkpoint.
 */

import { CheckpointStore } from '../../checkpoints/index.js';
import { averageCheckpoints } from '../../averaging/index.js';
import { loadConfig } from '../../config/index.js';
import { AsrTrainerError } from '../../errors.js';
import { UsageError } from '../exit.js';
import { formatPercent } from '../progress.js';

export interface AverageCommandOptions {
  config?: string;
  model?: string;
  dataset?: string;
  last?: number;
  names?: string[];
  json?: boolean;
}

export async function averageCommand(options: AverageCommandOptions): Promise<void> {
  if ((options.last === undefined) === (options.names === undefined)) {
    throw new UsageError('give exactly one of --last N and --names A,B,…');
  }
  const config = loadConfig({ path: options.config });
  const { model, dataset } = await pairOf(config.paths.checkpoints, options);
  const result = await averageCheckpoints(
    config,
    {
      model_name: model,
      dataset_name: dataset,
      ...(options.last !== undefined ? { last_n: options.last } : { names: options.names }),
    },
    {
      log: (level, message) => {
        if (level === 'warning') process.stderr.write(`warning: ${message}\n`);
      },
    },
  );
  if (options.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  const cer = result.metrics.val_cer;
  const wer = result.metrics.val_wer;
  process.stdout.write(
    [
      `${result.name}${result.is_best ? ' (best)' : ''}`,
      `  averaged from: ${result.averaged_from.join(', ')}`,
      `  val CER ${typeof cer === 'number' ? formatPercent(cer) : '-'}, WER ${typeof wer === 'number' ? formatPercent(wer) : '-'}`,
      '',
    ].join('\n'),
  );
}

/** The pair asked for, the rest filled in from the newest checkpoint that matches. */
async function pairOf(dir: string, options: AverageCommandOptions): Promise<{ model: string; dataset: string }> {
  if (options.model !== undefined && options.dataset !== undefined) {
    return { model: options.model, dataset: options.dataset };
  }
  const newest = (await new CheckpointStore({ dir }).list({ model: options.model, dataset: options.dataset })).find(
    (e) => e.valid,
  );
  if (!newest) {
    const which = [options.model && `model '${options.model}'`, options.dataset && `dataset '${options.dataset}'`]
      .filter(Boolean)
      .join(' and ');
    throw new AsrTrainerError(
      'E_NO_CHECKPOINT',
      `No checkpoint found${which ? ` for ${which}` : ''}: train a model first`,
    );
  }
  return { model: newest.model_name, dataset: newest.dataset_name };
}
