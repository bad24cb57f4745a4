/**
 * The whole surface of the native addon (native/addon), as TypeScript sees it. Everything else imports
 * these types; nothing touches the addon untyped.
 *
 * Naming: plain data objects mirror the C++ structs of native/core/include/asr field for field
 * (snake_case, as config.yaml and the events do); methods, properties and per-call options
 * (`signal`, `onStep`) are camelCase. Input structs are partial: a missing field takes the C++ default,
 * and an unknown field is an E_INVALID_ARGUMENT error (so a misspelt option never silently defaults).
 *
 * Every method that fails — synchronously or by rejecting — does so with an `AsrTrainerError`
 * (src/errors.ts) carrying the core's code.
 */

import type { AsrTrainerError } from '../errors.js';

/** asr::ModelConfig (model.h: ASR_MODEL_CONFIG_FIELDS; test/native/model-config-fields.test.ts keeps them equal). */
export interface ModelConfig {
  n_mels: number;
  d_model: number;
  num_layers: number;
  num_heads: number;
  ffn_dim: number;
  conv_kernel: number;
  vocab_size: number;
  dropout: number;
}

/** asr::ModelConfigProblem (model.h): a field that keeps a config from building a model, and what it must be. */
export interface ModelConfigProblem {
  field: keyof ModelConfig;
  /** "must be … (got …)". */
  message: string;
}

/** asr::SpecAugmentOptions (trainer.h). */
export interface SpecAugmentOptions {
  enabled: boolean;
  freq_masks: number;
  freq_width: number;
  time_masks: number;
  time_width_fraction: number;
}

/** asr::TrainConfig (trainer.h). `threads` 0 means all cores; `device` auto|cpu|cuda|cuda:N. */
export interface TrainConfig {
  learning_rate: number;
  warmup_steps: number;
  beta1: number;
  beta2: number;
  eps: number;
  weight_decay: number;
  grad_clip: number;
  grad_accumulation: number;
  seed: number;
  threads: number;
  device: string;
  /** fp32, or bf16: autocast of the forward pass (weights, optimizer state and checkpoints stay fp32). */
  precision: 'fp32' | 'bf16';
  spec_augment: SpecAugmentOptions;
  /** [0, 1): keep an exponential moving average of the weights (asr/ema.h); 0: none. */
  ema_decay: number;
}

export type TrainConfigInput = Partial<Omit<TrainConfig, 'spec_augment'>> & {
  spec_augment?: Partial<SpecAugmentOptions>;
};

/** asr::FbankOptions (features.h). */
export interface FbankOptions {
  num_mel_bins: number;
  sample_rate: number;
  frame_length_ms: number;
  frame_shift_ms: number;
  preemphasis: number;
  dither: number;
  n_fft: number;
  remove_dc_offset: boolean;
  snip_edges: boolean;
  low_freq: number;
  high_freq: number;
}

/** asr::StepResult (trainer.h). */
export interface StepResult {
  loss: number;
  lr: number;
  grad_norm: number;
  global_step: number;
  utterances: number;
  frames: number;
  seconds: number;
  /** false: the loss or gradient was NaN/inf and the update was skipped. */
  finite: boolean;
  /** An optimizer update happened (every grad_accumulation batches). */
  updated: boolean;
  /**
   * Attached to a world (Trainer.attachWorld): every rank's time for this step, index = rank; `seconds`
   * is this rank's. Absent for a trainer on its own.
   */
  rank_seconds?: number[];
  /** Attached to a world: this rank's wait for the gradient allreduce after backward, in seconds. */
  allreduce_s?: number;
  /** Attached to a world: the ids of the utterances this rank trained in this step (its shard). */
  ids?: string[];
}

/** A step as `onStep` sees it: `batch_index` is the position in the `batches` given to train(). */
export interface StepProgress extends StepResult {
  batch_index: number;
}

/** asr::EvalResult (trainer.h). cer and wer are fractions (0.046 is 4.6 %). */
export interface EvalResult {
  loss: number;
  cer: number;
  wer: number;
  utterances: number;
  hypotheses: string[];
  references: string[];
  ids: string[];
}

/** JSON-compatible values, as stored in a checkpoint's `config` and `metrics`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * asr::CheckpointMeta (checkpoint.h). `config` and `metrics` travel as JSON text in the file; the addon
 * stringifies and parses them.
 */
export interface CheckpointMeta {
  epoch: number;
  step: number;
  global_step: number;
  data_seed: number;
  data_epoch: number;
  batch_position: number;
  config: JsonObject;
  metrics: JsonObject;
}

export type CheckpointMetaInput = Partial<CheckpointMeta>;

/** asr::UtteranceSpec (dataset.h): `text` already normalised (a-z, apostrophe, single spaces). */
export interface UtteranceSpec {
  id: string;
  /** Any format libsndfile reads (wav, flac, ogg/vorbis, opus, mp3). */
  wav_path: string;
  text: string;
  /** The stretch of wav_path in seconds (asr::AudioSegment): from `offset`, `duration` long (0: to the end). */
  offset?: number;
  duration?: number;
}

/** asr::FeatureStoreOptions (dataset.h). An empty cache_dir computes in memory. */
export interface FeatureStoreOptions {
  cache_dir: string;
  cache_name?: string;
  fbank?: Partial<FbankOptions>;
  threads?: number;
  /**
   * Speed perturbation: the factors planEpoch draws from per (seed, epoch, utterance), each in (0.5, 2],
   * no repeats; [] or [1] is off. Each factor other than 1 is cached in its own file.
   */
  speed_factors?: number[];
}

/** One utterance handed to FeatureStore.fromAudio: mono samples in [-1, 1] at `sample_rate`. */
export interface AudioUtterance {
  id: string;
  samples: Float32Array;
  sample_rate: number;
  text: string;
}

/** asr::BatchPlanOptions (dataset.h). */
export interface BatchPlanOptions {
  batch_size: number;
  max_frames?: number;
  seed?: number;
  bucket_chunk?: number;
  shuffle?: boolean;
  bucket?: boolean;
}

export interface SkippedUtterance {
  id: string;
  reason: string;
}

/** All usable utterances' normalised features (immutable; safe to share between calls). */
export interface FeatureStore {
  /**
   * Indices: utterances at their own speed first (0 .. utterances - 1), then each perturbed speed's copy
   * of them; every index has the utterance's id and text.
   */
  readonly size: number;
  readonly utterances: number;
  /** The factors planEpoch draws from; [] when perturbation is off. */
  readonly speedFactors: number[];
  /** Entries (one per utterance and speed) this open computed / reused from the cache files (skips included). */
  readonly computed: number;
  readonly cached: number;
  readonly skipped: SkippedUtterance[];
  /** The cache file, or '' for an in-memory store. */
  readonly cachePath: string;
  readonly totalFrames: number;
  frames(index: number): number;
  id(index: number): string;
  text(index: number): string;
  ids(): string[];
  /**
   * The epoch's batches (indices into this store, each utterance once, at its drawn speed when the store
   * has speed factors): a pure function of (store, options, epoch).
   */
  planEpoch(options: BatchPlanOptions, epoch: number): number[][];
}

export type FeatureStoreProgress = (done: number, total: number) => void;

export interface FeatureStoreStatics {
  /** Reads or builds the cache file of these utterances (see dataset.h for reuse and skip rules). */
  open(specs: UtteranceSpec[], options: FeatureStoreOptions, onProgress?: FeatureStoreProgress): Promise<FeatureStore>;
  /** In memory, no cache; audio at another rate is resampled to 16 kHz first. */
  fromAudio(utterances: AudioUtterance[], fbank?: Partial<FbankOptions>): Promise<FeatureStore>;
}

export interface TrainOptions {
  /** Checked at each step boundary: the step in flight finishes, then train() resolves with cancelled. */
  signal?: AbortSignal;
  /**
   * Called on the main thread after each step, before train() resolves. If it throws, training stops at
   * the next step boundary and train() rejects with that error.
   */
  onStep?: (step: StepProgress) => void;
}

/** Which weights decode: the trained ones, or their moving average (Trainer.emaWeights). */
export type WeightsKind = 'raw' | 'ema';

export interface TranscribeOptions {
  /**
   * CTC prefix beam search keeping this many prefixes per frame (1..256, asr::kMaxBeamWidth; anything
   * else is E_INVALID_ARGUMENT); absent: greedy decoding (the best token per frame).
   */
  beam?: number;
  /**
   * 'ema': decode with the moving average swapped in (the trained weights are put back bit for bit
   * afterwards); E_INVALID_ARGUMENT when the trainer has none. Absent: 'raw'.
   */
  weights?: WeightsKind;
}

/** How evaluate() decodes (CER/WER) and with which weights; the loss does not depend on the decoder. */
export type EvaluateOptions = TranscribeOptions;

export interface SaveOptions {
  /** Main thread, once the state is copied: from here on train() and the other calls are accepted. */
  onSnapshot?: () => void;
}
export interface TrainOutcome {
  steps: StepResult[];
  cancelled: boolean;
}

/**
 * One training run's state (model, optimizer, schedule, generators). Calls are serialised: a second
 * async call while one is in flight rejects with E_INVALID_ARGUMENT.
 *
 * `new Trainer()` returns at once: it checks the configs and the device (and throws for them), and queues
 * building the model on the addon's compute thread, which may be busy with another trainer's train().
 * Every call waits for the build; a build that fails rejects the first call (and `ready`) with its error.
 */
export interface Trainer {
  /** Resolves once the model is built; rejects with the build's error. */
  readonly ready: Promise<void>;
  /** Trains on the given batches (indices into `store`) in order, one step each. */
  train(store: FeatureStore, batches: number[][], options?: TrainOptions): Promise<TrainOutcome>;
  evaluate(store: FeatureStore, batches: number[][], options?: EvaluateOptions): Promise<EvalResult>;
  /** Texts in the order of `indices`: greedy CTC decoding, or a prefix beam search with `beam`. */
  transcribe(store: FeatureStore, indices: number[], options?: TranscribeOptions): Promise<string[]>;
  /**
   * Atomic write (temp file, fsync, rename, folder fsync); resolves once the file is durable. With
   * `onSnapshot`, the trainer is free for the next call as soon as its state is copied (onSnapshot runs
   * then): serialisation and fsync go on off the training thread while the next steps train.
   */
  save(path: string, meta?: CheckpointMetaInput, options?: SaveOptions): Promise<void>;
  /** Restores model, optimizer, schedule and generators; E_CHECKPOINT_CORRUPT / E_SHAPE_MISMATCH / … */
  load(path: string): Promise<CheckpointMeta>;
  /**
   * Joins a data-parallel run (after load on rank 0, on every rank): rank 0's weights, buffers, optimizer
   * state and global step are broadcast to all. From then on train() and evaluate() take the GLOBAL
   * batches (the same on every rank) and each rank works on its contiguous share of each batch; gradients
   * are summed in buckets during backward, the loss is normalised over the global batch, BatchNorm buffers
   * follow rank 0 after each step, dropout and SpecAugment draw from (seed, global step, rank), and a
   * `signal` abort on any rank stops every rank after the same step. evaluate() returns the global
   * loss/CER/WER (hypotheses of this rank's share only). save() stays a local write: call it on rank 0.
   */
  attachWorld(world: World): Promise<void>;
  readonly globalStep: number;
  readonly parameterCount: number;
  /** "cpu", "cuda:0", … */
  readonly device: string;
  /** The rate the next update will use. */
  readonly lr: number;
  /**
   * The trainer holds a moving average of its weights: ema_decay > 0 (started at the weights, or restored
   * by load), or loaded from a checkpoint that has one (`ema_state_dict`). As of the last finished call.
   */
  readonly emaWeights: boolean;
  readonly modelConfig: ModelConfig;
  readonly trainConfig: TrainConfig;
}

/** A worker's place in a data-parallel run: torchrun's six variables, as numbers. */
export interface WorldPlace {
  rank: number;
  local_rank: number;
  world_size: number;
  local_world_size: number;
  master_addr: string;
  master_port: number;
  /**
   * torchrun's agent serves the c10d store at master_addr:master_port (TORCHELASTIC_USE_AGENT_STORE=True:
   * its static rendezvous), so every rank, rank 0 included, connects to it. Absent: rank 0 serves it.
   */
  agent_store?: boolean;
  /** TORCHELASTIC_RESTART_COUNT: the agent's store outlives restarts, so each attempt keeps its own keys. */
  restart_count?: number;
}

/**
 * Where this worker sits in a data-parallel run: torchrun's RANK, LOCAL_RANK, WORLD_SIZE,
 * LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, plus the backend, the bound on every wait, and the
 * training device (cuda picks cuda:LOCAL_RANK).
 */
export interface WorldOptions extends WorldPlace {
  backend: 'auto' | 'gloo' | 'nccl';
  timeout_s: number;
  device: string;
}

/**
 * A joined c10d process group (TCPStore rendezvous + Gloo or NCCL). Every call is a collective: all ranks
 * make the same calls in the same order. A rank that died or never comes makes the others reject with
 * E_DISTRIBUTED within timeout_s; after that the world is unusable: end the process.
 */
export interface World {
  readonly rank: number;
  readonly size: number;
  /** What "auto" resolved to: "gloo" or "nccl". */
  readonly backend: string;
  /** Resolves once every rank has called it. */
  barrier(): Promise<void>;
  /** True on every rank when any rank passed true (a MAX allreduce): how ranks agree to stop. */
  anyRank(flag: boolean): Promise<boolean>;
  /** Rank 0's text on every rank: rank 0 passes it, the others pass null (a broadcast). */
  shareFromRank0(text: string | null): Promise<string>;
}

export interface TrainerConstructor {
  new (model: Partial<ModelConfig>, train?: TrainConfigInput): Trainer;
}

export interface NativeVersions {
  libtorch: string;
  cuda: boolean;
  cudaDevices: number;
  openmp: boolean;
  /** The compute thread's intra-op thread count, as last set (answered without waiting for that thread). */
  threads: number;
  napi: number;
}

export interface FbankResult {
  /** frames × bins, row major. */
  data: Float32Array;
  frames: number;
  bins: number;
}

export interface AudioData {
  samples: Float32Array;
  sample_rate: number;
}

export interface AverageSummary {
  checkpoints: number;
  averagedTensors: number;
  /** Integer tensors (BatchNorm counters) taken from the last input. */
  copiedTensors: number;
  /** The last input's, which the average carries (with its epoch, step, data position and rng). */
  globalStep: number;
  optimizerState: 'dropped';
}

/** The loaded addon, as the loader (./load.ts) hands it out. */
export interface NativeAddon {
  /** Answered from known values: never waits for the compute thread. */
  readonly versions: NativeVersions;
  /**
   * Sets LibTorch's intra-op threads (0: all cores) on the compute thread, before any trainer work queued
   * after this call, without waiting for the work in flight; returns the count set.
   */
  setThreads(threads: number): number;
  /** One of modelPresets(); any other name throws E_INVALID_ARGUMENT listing them. */
  modelPreset(name: string): ModelConfig;
  /** The core's presets (model.cpp, their one definition) by name, in its order, the smallest first. */
  modelPresets(): Record<string, ModelConfig>;
  /**
   * The core's check of a model config (missing fields take the C++ defaults): every field that keeps it from
   * building a model, in field order; [] when it builds. E_INVALID_ARGUMENT for an unknown or non-number field.
   */
  modelConfigProblems(config: Partial<ModelConfig>): ModelConfigProblem[];
  /**
   * Kaldi-compatible log-mel filterbank (not normalised), computed off the main thread; other rates are
   * resampled to 16 kHz first.
   */
  fbank(samples: Float32Array, sampleRate: number, options?: Partial<FbankOptions>): Promise<FbankResult>;
  /** Any format libsndfile reads, mixed to mono and resampled to 16 kHz. */
  readAudio(path: string): Promise<AudioData>;
  readCheckpointMeta(path: string): Promise<CheckpointMeta>;
  readCheckpointModelConfig(path: string): Promise<ModelConfig>;
  /**
   * Writes the element-wise mean of the inputs' model weights to `output` as a normal checkpoint: float64
   * accumulation, integer buffers from the last input, optimizer moments dropped (a resumed run starts
   * them afresh; the schedule continues from the last input's global_step), metrics "{}". Writes no
   * sidecar. E_SHAPE_MISMATCH names the first key that differs between inputs.
   */
  averageCheckpoints(inputs: string[], output: string): Promise<AverageSummary>;
  /**
   * Opens (creating) `path` and takes its kernel lock (fcntl F_OFD_SETLK) without waiting: the descriptor
   * holding it, or null while another open file holds it. The lock ends with unlockFile() or the process.
   */
  lockFile(path: string): number | null;
  /**
   * Creates `path` (it must not exist: E_IO) and locks it, for a temp file written through the descriptor
   * and renamed into place before unlockFile(): null when a reclaimer caught the new file first (use
   * another name). While locked, removeAbandonedFile() leaves it alone.
   */
  createLockedFile(path: string): number | null;
  /**
   * Removes the regular file `path` when no open file holds its lock (its writer is gone, zombie or not):
   * the bytes it held, or null when it is kept (a live writer's, gone already, or a symlink).
   */
  removeAbandonedFile(path: string): number | null;
  /** Keeps the lock of `path` on a descriptor inherited from the process that took it; returns `fd`. */
  adoptFileLock(fd: number, path: string): number;
  /** Closes a descriptor lockFile/adoptFileLock returned (unknown ones are ignored). */
  unlockFile(fd: number): void;
  /**
   * A connected pair of Unix sockets, [keep, give], both close-on-exec: `give` is handed to a child process
   * as one of its descriptors at spawn (the caller closes its copy), `keep` sends it a lock later.
   */
  descriptorChannel(): [number, number];
  /**
   * Whether the core may raise glibc's mmap/trim thresholds (keep_freed_memory, runtime.h); the loader passes
   * allocatorTuningWanted(process.env) before any trainer exists.
   */
  allowAllocatorTuning(allowed: boolean): void;
  /** The allocator's heap in bytes (read when a run ends: its peak, as freed memory is kept); 0 if unknown. */
  heapBytes(): number;
  /**
   * Pages in `bytes` of heap and keeps them for the allocations to come (a trainer started ahead of its
   * run); false when the allocator would return them anyway (its thresholds are the user's).
   */
  warmHeap(bytes: number): boolean;
  /** Sends a copy of descriptor `fd` (a held lock's) over `socket` to the process at the other end. */
  sendDescriptor(socket: number, fd: number): void;
  /** The descriptor sent over `socket`, waiting at most `timeoutMs` (E_IO when none came). */
  receiveDescriptor(socket: number, timeoutMs: number): number;
  /** Whether this build has the data-parallel layer (c10d; built when libgloo-dev is present). */
  readonly distributed: boolean;
  /**
   * Joins the process group (blocks off the main thread until all world_size ranks arrive, at most
   * timeout_s; E_DISTRIBUTED names the address and the fix). E_DISTRIBUTED when !distributed.
   */
  joinWorld(options: WorldOptions): Promise<World>;
  FeatureStore: FeatureStoreStatics;
  Trainer: TrainerConstructor;
}

/** What the binary exports before the loader (./load.ts) hands it the error class. */
export interface RawNativeAddon extends NativeAddon {
  /** The addon constructs this class as `new errorClass(code, message)` for every failure. */
  setErrorClass(errorClass: typeof AsrTrainerError): void;
}
