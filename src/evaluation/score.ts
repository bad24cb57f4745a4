/**
 * A checkpoint's CER/WER on named splits of a dataset, each measured as validation is (the features
 * cache, batch plan and Trainer.evaluate of ../averaging/evaluate.ts), so a test figure and a validation
 * figure of one run compare on equal terms.
 */
import type { SplitEvaluation } from '../contract/datasets.js';
import type { AsrConfig } from '../config/schema.js';
import { splitsNamed, type DatasetSplit } from '../data/dataset.js';
import { AsrTrainerError } from '../errors.js';
import type { NativeAddon } from '../native/index.js';
import { scoreUtterances } from '../averaging/evaluate.js';

export async function scoreSplits(
  native: NativeAddon,
  config: AsrConfig,
  dataset: DatasetSplit,
  split: string,
  checkpointPath: string,
  beam: number,
): Promise<SplitEvaluation[]> {
  const decoding = { ...config, training: { ...config.training, val_beam: beam } };
  const results: SplitEvaluation[] = [];
  for (const named of splitsNamed(dataset, split)) {
    const score = await scoreUtterances(
      native,
      decoding,
      named.utterances,
      evaluationCacheName(dataset.name, named.name),
      checkpointPath,
      config.training.batch_size,
    );
    if (score === null) {
      throw new AsrTrainerError(
        'E_DATASET_INVALID',
        `Split '${named.name}' of dataset '${dataset.name}' has no usable utterance (${named.utterances.length} listed): check its audio files and transcripts.`,
        { dataset_name: dataset.name, split: named.name },
      );
    }
    results.push({ split: named.name, utterances: score.utterances, cer: score.val_cer, wer: score.val_wer });
  }
  return results;
}

/** One features cache file per scored split; split names of a combination hold a `/`. */
function evaluationCacheName(dataset: string, split: string): string {
  return `${dataset}.eval-${split.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}
