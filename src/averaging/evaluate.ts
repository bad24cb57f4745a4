/**
 * A checkpoint's score on its dataset's validation split, measured as the training loop measures each
 * epoch (the same features cache, batch plan, decoder and Trainer.evaluate), so an average's figures sit
 * beside its inputs' in the listing on equal terms; and on any other utterances the same way (the demo's
 * held-out set).
 */
import { join } from 'node:path';
import type { AsrConfig } from '../config/schema.js';
import { loadDataset, type UtteranceSpec } from '../data/dataset.js';
import type { NativeAddon } from '../native/index.js';
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
  // The cache file the trainer's validation writes (src/training/setup.ts), so its features are reused.
  return scoreUtterances(native, config, dataset.val, `${datasetName}.val`, checkpointPath, batchSize);
}

/**
 * A checkpoint's score on any utterances (a held-out set, say), measured as validation is; their features
 * are cached as `cacheName`. null when none of them is usable.
 */
export async function scoreUtterances(
  native: NativeAddon,
  config: AsrConfig,
  utterances: UtteranceSpec[],
  cacheName: string,
  checkpointPath: string,
  batchSize: number,
): Promise<ValidationScore | null> {
  const threads = config.training.threads === 'auto' ? 0 : config.training.threads;
  native.setThreads(threads);
  const data = await native.FeatureStore.open(utterances, {
    cache_dir: join(config.paths.cache, 'features'),
    cache_name: cacheName,
    threads,
  });
  if (data.size === 0) return null;
  const modelConfig = await native.readCheckpointModelConfig(checkpointPath);
  const trainer = new native.Trainer(modelConfig, {
    threads,
    device: config.training.device,
    precision: config.training.precision,
  });
  await trainer.load(checkpointPath);
  const batches = data.planEpoch(
    { batch_size: batchSize, max_frames: config.training.max_frames, seed: config.training.seed, shuffle: false },
    0,
  );
  const result = await trainer.evaluate(data, batches, validationDecoding(config.training));
  return { val_loss: result.loss, val_cer: result.cer, val_wer: result.wer, utterances: result.utterances };
}
