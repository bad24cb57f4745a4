/**
 * What a completed run does last: its best checkpoint (the newest valid one before any validation) scored
 * on every `test` split of the dataset, as `asr-trainer evaluate` would, the figures written beside the
 * checkpoint (NAME.pt.test.json, listed by GET /api/checkpoints) and logged.
 */
import { writeTestScores, type CheckpointStore } from '../checkpoints/index.js';
import type { AsrConfig } from '../config/schema.js';
import type { SplitEvaluation } from '../contract/datasets.js';
import type { DatasetSplit } from '../data/dataset.js';
import { scoreSplits } from '../evaluation/index.js';
import type { Log } from '../log.js';
import { loadNative } from '../native/index.js';
import { formatPercentage } from './validation.js';

export async function scoreTestSplits(
  config: AsrConfig,
  store: CheckpointStore,
  dataset: DatasetSplit,
  model: string,
  log: Log,
): Promise<SplitEvaluation[] | null> {
  if (!dataset.splits.some((split) => split.role === 'test')) return null;
  const entries = (await store.list({ model, dataset: dataset.name })).filter((entry) => entry.valid);
  const scored = entries.find((entry) => entry.is_best) ?? entries[0];
  if (scored === undefined) return null;
  const splits = await scoreSplits(
    loadNative(),
    config,
    dataset,
    'test',
    store.pathOf(scored.name),
    config.training.val_beam,
  );
  await writeTestScores(config.paths.checkpoints, scored.name, splits);
  for (const s of splits) {
    log(
      'info',
      `Test ${s.split} (${s.utterances} utterances, ${scored.name}): CER ${formatPercentage(s.cer)}, WER ${formatPercentage(s.wer)}`,
    );
  }
  return splits;
}
