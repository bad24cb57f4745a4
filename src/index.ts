/**
 * The package entry (`import { Trainer } from 'asr-trainer'`): the native training surface, the run and
 * checkpoint objects the server and CLI are built from, the server itself, and the shapes they exchange.
 *
 * Importing the entry loads the native addon (as sharp does): a package whose core is a binary says at
 * once, with the loader's list of paths tried and the likely fix, when that binary cannot load. Code that
 * needs only the TypeScript parts imports their folders (`src/config`, `src/checkpoints`, …), which load
 * the addon on first use.
 */
import { loadNative } from './native/index.js';
import type {
  FeatureStore as FeatureStoreInstance,
  FeatureStoreStatics,
  NativeAddon,
  Trainer as TrainerInstance,
  TrainerConstructor,
} from './native/index.js';

const native = loadNative();

/** `new Trainer(modelConfig, trainConfig)`: one training run's model, optimizer and schedule. */
export const Trainer: TrainerConstructor = native.Trainer;
export type Trainer = TrainerInstance;
/** `FeatureStore.fromAudio(…)` / `FeatureStore.open(…)`: utterances' features, batched by `planEpoch`. */
export const FeatureStore: FeatureStoreStatics = native.FeatureStore;
export type FeatureStore = FeatureStoreInstance;
/** The model sizes xs | s | m | l. */
export const modelPreset: NativeAddon['modelPreset'] = native.modelPreset;
export { loadNative };
// The native surface's types a caller of Trainer and FeatureStore meets; the raw binary's (RawNativeAddon,
// before the loader hands it the error class) stays inside.
export type {
  AudioData,
  AudioUtterance,
  AverageSummary,
  BatchPlanOptions,
  CheckpointMeta,
  CheckpointMetaInput,
  EvalResult,
  EvaluateOptions,
  FbankOptions,
  FbankResult,
  FeatureStoreOptions,
  FeatureStoreProgress,
  FeatureStoreStatics,
  JsonObject,
  JsonValue,
  ModelConfig,
  NativeAddon,
  NativeVersions,
  SaveOptions,
  SkippedUtterance,
  SpecAugmentOptions,
  StepProgress,
  StepResult,
  TrainConfig,
  TrainConfigInput,
  TrainerConstructor,
  TrainOptions,
  TrainOutcome,
  TranscribeOptions,
  UtteranceSpec,
  WeightsKind,
  World,
  WorldOptions,
  WorldPlace,
} from './native/types.js';

export { AsrTrainerError, isAsrTrainerError, type AsrErrorCode } from './errors.js';
export { loadConfig, parseConfig, type AsrConfig, type LoadedConfig } from './config/index.js';
export { TrainingRun, planRun, type PrepareOptions, type RunOptions, type RunOutcome } from './training/index.js';
export { CheckpointStore, type CheckpointStoreOptions } from './checkpoints/index.js';
/** `averageCheckpoints(config, {model_name, dataset_name, last_n})`: what POST /api/checkpoints/average does. */
export { averageCheckpoints, type AverageOptions } from './averaging/index.js';
export { buildApp, serve, type BuildAppOptions, type RunningServer, type ServeOptions } from './server/index.js';

// The contract: what crosses the API, the WebSocket and the trainer process (src/contract).
export * from './contract/index.js';
export type { RunPlan } from './training/plan.js';
