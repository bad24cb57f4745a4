/**
 * Setting a planned run up: the folder lock (and the space of saves killed before), the dataset's features
 * (cached), the Trainer and the checkpoint it resumes. Everything a TrainingRun needs before its first
 * step, and nothing it does after.
 * In a data-parallel world every rank opens its features and builds its trainer; rank 0 alone holds the
 * lock and loads the checkpoint, then tells the others the batch order's seed, and all attach the world
 * (which broadcasts rank 0's state).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { CheckpointStore, backupOptions, type CheckpointLock } from '../checkpoints/index.js';
import type { AsrConfig } from '../config/schema.js';
import { loadDataset, type DatasetSplit } from '../data/dataset.js';
import { checkSkippedShare } from '../data/skips.js';
import { AsrTrainerError } from '../errors.js';
import type { Log } from '../log.js';
import { loadNative } from '../native/index.js';
import type { FeatureStore, NativeAddon, Trainer, World } from '../native/types.js';
import type { RunPlan } from './plan.js';

export interface RunResources {
  store: CheckpointStore;
  /** Held until the run ends or is closed; null on the ranks of a world other than 0 (rank 0 writes). */
  lock: CheckpointLock | null;
  trainer: Trainer;
  trainData: FeatureStore;
  valData: FeatureStore | null;
  /** The dataset as loaded (its named splits: the test ones are scored when the run completes). */
  dataset: DatasetSplit;
  /** The seed of the batch order: the checkpoint's when resuming, else training.seed. */
  dataSeed: number;
}

/**
 * Takes the lock first and releases it again when any later step throws (AsrTrainerError, see ./index.ts).
 * With `world`, every rank calls it (it makes collective calls).
 */
export async function setUpRun(
  config: AsrConfig,
  plan: RunPlan,
  log: Log,
  world: World | null = null,
): Promise<RunResources> {
  const store = new CheckpointStore({
    dir: config.paths.checkpoints,
    log,
    backup: backupOptions(config),
  });
  const writer = world === null || world.rank === 0;
  const lock = writer ? await store.acquireLock(plan.model_name, plan.dataset_name) : null;
  try {
    if (writer) await store.reclaimAbandonedTemps();
    const native = loadNative();
    const threads = config.training.threads === 'auto' ? 0 : config.training.threads;
    native.setThreads(threads);
    const { dataset, trainData, valData } = await openFeatures(native, config, plan, threads, log);
    const trainer = buildTrainer(native, config, plan, threads);
    let dataSeed = config.training.seed;
    if (plan.resumed_from && writer) {
      const meta = await trainer.load(store.pathOf(plan.resumed_from));
      // The batch order continues the checkpoint's, even if the config's seed changed since.
      dataSeed = meta.data_seed;
      log(
        'info',
        `Loaded ${plan.resumed_from} (epoch ${meta.epoch}, step ${meta.step}, global step ${meta.global_step})`,
      );
    }
    if (world) {
      dataSeed = await agreeOnData(world, trainData, dataSeed);
      await trainer.attachWorld(world);
    }
    log(
      'info',
      `Model ${plan.model_name}: ${trainer.parameterCount.toLocaleString('en-US')} parameters on ${trainer.device}, ${native.versions.threads} threads` +
        (world ? `, rank ${world.rank} of ${world.size} (${world.backend})` : ''),
    );
    return { store, lock, trainer, trainData, valData, dataset, dataSeed };
  } catch (err) {
    await lock?.release();
    throw err;
  }
}

/**
 * Rank 0's batch-order seed (its checkpoint's), checked against every rank's training set: the ranks
 * split one global batch by index, so a node whose copy of the dataset differs would train other
 * utterances than the plan says. Every rank fails alike (a vote), instead of the others hanging.
 */
async function agreeOnData(world: World, trainData: FeatureStore, dataSeed: number): Promise<number> {
  const digest = createHash('sha256').update(trainData.ids().join('\n')).digest('hex');
  const mine = JSON.stringify({ data_seed: dataSeed, size: trainData.size, digest });
  const shared = JSON.parse(await world.shareFromRank0(world.rank === 0 ? mine : null)) as {
    data_seed: number;
    size: number;
    digest: string;
  };
  const differs = shared.size !== trainData.size || shared.digest !== digest;
  if (await world.anyRank(differs)) {
    throw new AsrTrainerError(
      'E_DISTRIBUTED',
      differs
        ? `Rank ${world.rank}'s training set (${trainData.size} utterances) differs from rank 0's (${shared.size}): every node needs the same copy of the dataset at its datasets path`
        : `Another rank's training set differs from rank ${world.rank}'s: every node needs the same copy of the dataset at its datasets path`,
    );
  }
  return shared.data_seed;
}

async function openFeatures(
  native: NativeAddon,
  config: AsrConfig,
  plan: RunPlan,
  threads: number,
  log: Log,
): Promise<{ dataset: DatasetSplit; trainData: FeatureStore; valData: FeatureStore | null }> {
  const dataset = loadDataset(config, plan.dataset_name, {
    limitSamples: plan.request.limit_samples ?? undefined,
    lightweight: plan.request.lightweight ?? false,
    log,
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
  return { dataset, trainData, valData };
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
      ema_decay: training.ema_decay,
    },
  );
}
