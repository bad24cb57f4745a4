/**
 * The schema of config.yaml (config.yaml, commented; docs/architecture.md §4): the single source of the config's type, its defaults
 * and its validation. `expected` on a field overrides the generated "must be …" text of its error.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { CORPUS_FORMATS } from '../contract/datasets.js';
import { NAME_PATTERN } from '../contract/names.js';
import { MAX_BEAM_WIDTH } from '../contract/transcribe.js';

/** The preset of a model entry that names none (and of the built-in `conformer`). */
export const DEFAULT_MODEL_PRESET = 'xs';

const closed = { additionalProperties: false } as const;

export const ServerSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1', description: 'address to bind' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8000, description: '0 picks a free port' }),
    api_token: Type.String({
      default: '',
      description:
        'non-empty: every route but /api/health and /ws need "Authorization: Bearer <token>"; ASR_API_TOKEN overrides it',
    }),
    prestart_trainer: Type.Boolean({
      default: true,
      description:
        'keep a trainer process started while idle (Node and LibTorch loaded, ~1.6 s on 2 cores), so a start or resume begins training at once; single-process runs only',
    }),
  },
  { ...closed, default: {} },
);

export const PathsSchema = Type.Object(
  {
    checkpoints: Type.String({ minLength: 1, default: 'checkpoints' }),
    runs: Type.String({ minLength: 1, default: 'runs' }),
    cache: Type.String({ minLength: 1, default: '.cache' }),
    backup: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'second folder (another disk, a mounted volume) for copies of the best and every backup_every_epochs-th checkpoint',
      }),
    ),
  },
  { ...closed, default: {} },
);

const SourceList = (role: string) =>
  Type.Array(Type.String({ minLength: 1 }), {
    minItems: 1,
    expected: 'a list of sub-folders, manifests or Kaldi directories, such as [train-clean-100]',
    description: `${role} sources as the format names them (resolved against path, or the config's folder without one)`,
  });

export const DatasetSchema = Type.Object(
  {
    path: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'the corpus folder or manifest; needed unless train lists the sources or combine is set',
      }),
    ),
    format: Type.Optional(
      Type.Union(
        CORPUS_FORMATS.map((f) => Type.Literal(f)),
        { description: 'left out: detected from the files at path (or the first train source)' },
      ),
    ),
    train: Type.Optional(SourceList('training')),
    validation: Type.Optional(SourceList('validation; left out: val_fraction of training (or val_list)')),
    test: Type.Optional(SourceList('test (scored at the end of a run and by evaluate)')),
    combine: Type.Optional(
      Type.Array(Type.String({ pattern: NAME_PATTERN }), {
        minItems: 2,
        uniqueItems: true,
        expected: 'a list of at least two other dataset names',
        description: "one training set of these datasets' training sets; validation and test are each one's",
      }),
    ),
    val_fraction: Type.Number({
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0.05,
      description: 'share of utterances held out for validation, chosen by a seeded hash of the id',
    }),
    val_list: Type.Optional(
      Type.String({ minLength: 1, description: 'file of validation ids, one a line; replaces val_fraction' }),
    ),
    max_skipped_fraction: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.1,
      description: 'the run fails when more than this share of utterances is unusable',
    }),
  },
  closed,
);

/**
 * A model entry: a preset overlaid with single values. Only the types are checked here; which presets exist
 * and which values build a model are the core's (native/core/src/model.cpp), checked through the addon by
 * the loader (config/models.ts), so no rule is written twice.
 */
export const ModelSchema = Type.Object(
  {
    preset: Type.Optional(
      Type.String({
        minLength: 1,
        description: `a preset the core defines (default ${DEFAULT_MODEL_PRESET}); the keys below override single values`,
      }),
    ),
    d_model: Type.Optional(Type.Integer()),
    num_layers: Type.Optional(Type.Integer()),
    num_heads: Type.Optional(Type.Integer()),
    ffn_dim: Type.Optional(Type.Integer()),
    conv_kernel: Type.Optional(Type.Integer()),
    dropout: Type.Optional(Type.Number()),
  },
  closed,
);

export const TrainingSchema = Type.Object(
  {
    auto_resume: Type.Boolean({ default: true }),
    checkpoint_retention: Type.Integer({
      minimum: 0,
      default: 5,
      description: 'epoch checkpoints kept; 0 keeps all; best, newest and resumed-from are never dropped',
    }),
    epochs: Type.Integer({ minimum: 1, default: 10, description: 'total epochs, counted across resumes' }),
    batch_size: Type.Integer({ minimum: 1, default: 16 }),
    max_frames: Type.Integer({
      minimum: 0,
      default: 0,
      description: '>0: a batch holds at most this many feature frames (padded), instead of batch_size',
    }),
    learning_rate: Type.Number({ exclusiveMinimum: 0, default: 0.003, description: 'peak of the Noam schedule' }),
    warmup_steps: Type.Integer({ minimum: 0, default: 100 }),
    weight_decay: Type.Number({ minimum: 0, default: 0.001 }),
    grad_clip: Type.Number({ minimum: 0, default: 5, description: 'max gradient norm; 0 disables clipping' }),
    grad_accumulation: Type.Integer({ minimum: 1, default: 1 }),
    spec_augment: Type.Boolean({ default: false }),
    ema_decay: Type.Number({
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0.995,
      expected: 'a number >= 0 and < 1 (0 turns the moving average off; 0.999 is usual)',
      description:
        '> 0: keep an exponential moving average of the weights, validated beside them (val_cer_ema) and used by transcribe',
    }),
    speed_perturb: Type.Array(
      Type.Number({ exclusiveMinimum: 0.5, maximum: 2, expected: 'a speed factor > 0.5 and <= 2' }),
      {
        uniqueItems: true,
        default: [0.9, 1.0, 1.1],
        expected: 'a list of distinct speed factors, each > 0.5 and <= 2, such as [0.9, 1.0, 1.1]',
        description: 'each epoch trains every utterance at one factor drawn from these; [] or [1.0] is off',
      },
    ),
    backup_every_epochs: Type.Integer({
      minimum: 0,
      default: 0,
      description: 'with paths.backup: also back up every N-th epoch checkpoint; 0 backs up the best only',
    }),
    save_every_steps: Type.Integer({ minimum: 0, default: 0, description: '>0: also mid-epoch checkpoints' }),
    val_every_epochs: Type.Integer({ minimum: 1, default: 1 }),
    val_beam: Type.Integer({
      minimum: 1,
      maximum: MAX_BEAM_WIDTH,
      default: 1,
      expected: `an integer from 1 (greedy decoding) to ${MAX_BEAM_WIDTH} (a CTC prefix beam of that width)`,
      description: 'decoder of the validation CER/WER: 1 = greedy, > 1 = CTC prefix beam search of that width',
    }),
    early_stopping_patience: Type.Integer({
      minimum: 0,
      default: 0,
      description:
        'epochs without a better val CER after which the run ends as completed (counted across resumes); 0 = off',
    }),
    lightweight_samples: Type.Integer({
      minimum: 1,
      default: 64,
      description: 'training set size under lightweight: true',
    }),
    device: Type.String({
      pattern: '^(auto|cpu|cuda|cuda:[0-9]+)$',
      default: 'auto',
      expected: 'one of auto, cpu, cuda, cuda:N',
    }),
    threads: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 1 })], {
      default: 'auto',
      expected: '"auto" or an integer >= 1',
    }),
    precision: Type.Union([Type.Literal('fp32'), Type.Literal('bf16')], {
      default: 'fp32',
      description: 'bf16: autocast of the forward pass (AVX512-BF16/AMX CPUs, GPUs); weights and checkpoints stay fp32',
    }),
    seed: Type.Integer({ minimum: 0, default: 0 }),
  },
  { ...closed, default: {} },
);

/** Data-parallel training over LibTorch's c10d (README "Distributed training"). */
export const DistributedSchema = Type.Object(
  {
    nproc_per_node: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 1 })], {
      default: 1,
      expected: '"auto" or an integer >= 1',
      description:
        'worker processes on this machine (1 = one process, no process group; auto = the layout measured fastest here, src/training/layout.ts)',
    }),
    nnodes: Type.Integer({ minimum: 1, default: 1, description: 'machines in the run' }),
    node_rank: Type.Integer({ minimum: 0, default: 0, description: "this machine's index; the server runs on node 0" }),
    master_addr: Type.String({
      minLength: 1,
      default: '127.0.0.1',
      description: "node 0's address, reachable from every node",
    }),
    master_port: Type.Integer({ minimum: 1, maximum: 65535, default: 29500, description: "rank 0's TCPStore port" }),
    backend: Type.Union([Type.Literal('auto'), Type.Literal('gloo'), Type.Literal('nccl')], {
      default: 'auto',
      expected: 'one of auto, gloo, nccl',
      description: 'auto: nccl on CUDA, gloo on CPU',
    }),
    timeout_s: Type.Number({
      exclusiveMinimum: 0,
      default: 60,
      description: 'a rendezvous or collective that waits longer fails the run instead of hanging',
    }),
    max_restarts: Type.Integer({
      minimum: 0,
      default: 0,
      description: '> 0: a failed worker group restarts from the latest checkpoint, at most this many times',
    }),
  },
  { ...closed, default: {} },
);

/** The whole file. Maps (datasets, models) are validated entry by entry by the loader (see load.ts). */
export const AsrConfigSchema = Type.Object(
  {
    server: ServerSchema,
    paths: PathsSchema,
    datasets: Type.Record(Type.String({ pattern: NAME_PATTERN }), DatasetSchema),
    models: Type.Record(Type.String({ pattern: NAME_PATTERN }), ModelSchema),
    training: TrainingSchema,
    distributed: DistributedSchema,
  },
  closed,
);

/** The validated config, defaults applied and every path absolute. */
export type AsrConfig = Static<typeof AsrConfigSchema>;
export type ServerConfig = Static<typeof ServerSchema>;
export type PathsConfig = Static<typeof PathsSchema>;
export type DatasetConfig = Static<typeof DatasetSchema>;
export type ModelEntryConfig = Static<typeof ModelSchema>;
export type TrainingConfig = Static<typeof TrainingSchema>;
export type DistributedConfig = Static<typeof DistributedSchema>;

/** What a config holds when the file leaves a map out entirely (mirrors config.yaml). */
export const DEFAULT_DATASETS: Record<string, { path: string; val_list?: string }> = {
  ljspeech: { path: 'data/LJSpeech-1.1' },
  'mini-ljspeech': { path: 'data/mini-ljspeech', val_list: 'data/mini-ljspeech/val_ids.txt' },
};
export const DEFAULT_MODELS: Record<string, { preset: string }> = {
  conformer: { preset: DEFAULT_MODEL_PRESET },
};

export type AnySchema = TSchema & { expected?: string };
