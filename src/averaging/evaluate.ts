/**
 * A checkpoint's score on its dataset's validation split, measured as the training loop measures each
 * epoch (the same features cache, batch plan, decoder and Trainer.evaluate), so an average's figures sit beside
 * its inputs' in the listing on equal terms.
 */
import { join } from 'node:path';
import type { AsrConfig } from '../config/schema.js';
import { loadDataset } from '../data/dataset.js';
import type { NativeAddon } from '../native.js';
import { validationDecoding } from '../training/validation.js';

export interface ValidationScore {
  val_loss: number;
  val_cer: number;
  val_wer: number;
  utterances: number;
}

/** null when the dataset has no validation utterances. */
export async function scoreOnValidation(
  native: NativeAddon,
  config: AsrConfig,
  datasetName: string,
  checkpointPath: string,
  batchSize: number,
): Promise<ValidationScore | null> {
  const dataset = loadDataset(config, datasetName);
  if (dataset.val.length === 0) return null;
  const threads = config.training.threads === 'auto' ? 0 : config.training.threads;
  native.setThreads(threads);
  // The cache file the trainer's validation writes (src/training/setup.ts), so its features are reused.
  const valData = await native.FeatureStore.open(dataset.val, {
    cache_dir: join(config.paths.cache, 'features'),
    cache_name: `${datasetName}.val`,
    threads,
  });
  if (valData.size === 0) return null;
  const modelConfig = await native.readCheckpointModelConfig(checkpointPath);
  const trainer = new native.Trainer(modelConfig, {
    threads,
    device: config.training.device,
    precision: config.training.precision,
  });
  await trainer.load(checkpointPath);
  const batches = valData.planEpoch(
    { batch_size: batchSize, max_frames: config.training.max_frames, seed: config.training.seed, shuffle: false },
    0,
  );
  const result = await trainer.evaluate(valData, batches, validationDecoding(config.training));
  return { val_loss: result.loss, val_cer: result.cer, val_wer: result.wer, utterances: result.utterances };
}
