/**
 * Setting a planned run up: the folder lock, the dataset's features (cached), the Trainer and the
 * checkpoint it resumes. Everything a TrainingRun needs before its first step, and nothing it does after.
 */
import { join } from 'node:path';
import { CheckpointStore, backupOptions, type CheckpointLock } from '../checkpoints/index.js';
import type { AsrConfig } from '../config/schema.js';
import type { LogLevel } from '../contract/index.js';
import { loadDataset } from '../data/dataset.js';
import { checkSkippedShare } from '../data/skips.js';
import { AsrTrainerError } from '../errors.js';
import { loadNative } from '../native.js';
import type { FeatureStore, NativeAddon, Trainer } from '../native/types.js';
import type { RunPlan } from './plan.js';

export interface RunResources {
  store: CheckpointStore;
  /** Held until the run ends or is closed. */
  lock: CheckpointLock;
  trainer: Trainer;
  trainData: FeatureStore;
  valData: FeatureStore | null;
  /** The seed of the batch order: the checkpoint's when resuming, else training.seed. */
  dataSeed: number;
}

type Log = (level: LogLevel, message: string) => void;

/** Takes the lock first and releases it again when any later step throws (AsrTrainerError, see ./index.ts). */
export async function setUpRun(config: AsrConfig, plan: RunPlan, log: Log): Promise<RunResources> {
  const store = new CheckpointStore({
    dir: config.paths.checkpoints,
    logger: { info: (m) => log('info', m), warn: (m) => log('warning', m) },
    backup: backupOptions(config),
  });
  const lock = await store.acquireLock(plan.model_name, plan.dataset_name);
  try {
    const native = loadNative();
    const threads = config.training.threads === 'auto' ? 0 : config.training.threads;
    native.setThreads(threads);
    const { trainData, valData } = await openFeatures(native, config, plan, threads, log);
    const trainer = buildTrainer(native, config, plan, threads);
    let dataSeed = config.training.seed;
    if (plan.resumed_from) {
      const meta = await trainer.load(store.pathOf(plan.resumed_from));
      // The batch order continues the checkpoint's, even if the config's seed changed since.
      dataSeed = meta.data_seed;
      log(
        'info',
        `Loaded ${plan.resumed_from} (epoch ${meta.epoch}, step ${meta.step}, global step ${meta.global_step})`,
      );
    }
    log(
      'info',
      `Model ${plan.model_name}: ${trainer.parameterCount.toLocaleString('en-US')} parameters on ${trainer.device}, ${native.versions.threads} threads`,
    );
    return { store, lock, trainer, trainData, valData, dataSeed };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function openFeatures(
  native: NativeAddon,
  config: AsrConfig,
  plan: RunPlan,
  threads: number,
  log: Log,
): Promise<{ trainData: FeatureStore; valData: FeatureStore | null }> {
  const dataset = loadDataset(config, plan.dataset_name, {
    limitSamples: plan.request.limit_samples ?? undefined,
    lightweight: plan.request.lightweight ?? false,
    onLog: log,
  });
  log(
    'info',
    `Dataset ${plan.dataset_name}: ${dataset.counts.train} training and ${dataset.counts.val} validation utterances`,
  );
  const cacheDir = join(config.paths.cache, 'features');
  let lastReported = 0;
  const onProgress = (done: number, total: number): void => {
    // A line per tenth is enough to show the cache is being built without flooding the log.
    if (total > 0 && (done === total || done - lastReported >= total / 10)) {
      lastReported = done;
      log('info', `Features: ${done}/${total} utterances`);
    }
  };
  // One cache file per dataset split: sharing one name made each open overwrite the other's file.
  const cacheName = (split: string): string => `${plan.dataset_name}.${split}`;
  const trainData = await native.FeatureStore.open(
    dataset.train,
    // Validation never perturbs: only the training split gets the factors.
    { cache_dir: cacheDir, cache_name: cacheName('train'), threads, speed_factors: config.training.speed_perturb },
    onProgress,
  );
  const valData =
    dataset.val.length > 0
      ? await native.FeatureStore.open(dataset.val, { cache_dir: cacheDir, cache_name: cacheName('val'), threads })
      : null;
  const skipped = [...dataset.skipped, ...trainData.skipped, ...(valData?.skipped ?? [])];
  const verdict = checkSkippedShare(plan.dataset_name, dataset.counts.total, skipped, dataset.maxSkippedFraction);
  if (verdict.warning) log('warning', verdict.warning);
  if (trainData.size === 0) {
    throw new AsrTrainerError('E_DATASET_INVALID', `Dataset '${plan.dataset_name}' has no usable training utterances`);
  }
  return { trainData, valData };
}

function buildTrainer(native: NativeAddon, config: AsrConfig, plan: RunPlan, threads: number): Trainer {
  const training = config.training;
  return new native.Trainer(
    { ...plan.model },
    {
      learning_rate: training.learning_rate,
      warmup_steps: training.warmup_steps,
      weight_decay: training.weight_decay,
      grad_clip: training.grad_clip,
      grad_accumulation: training.grad_accumulation,
      seed: training.seed,
      threads,
      device: training.device,
      precision: training.precision,
      spec_augment: { enabled: training.spec_augment },
    },
  );
}
