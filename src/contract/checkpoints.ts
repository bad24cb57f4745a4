import { Type, type Static } from '@sinclair/typebox';
import { SplitEvaluationSchema } from './datasets.js';
import { CheckpointNameSchema, NameSchema } from './names.js';

/** One entry of GET /api/checkpoints. */
export const CheckpointEntrySchema = Type.Object({
  name: Type.String(),
  model_name: Type.String(),
  dataset_name: Type.String(),
  kind: Type.Union([Type.Literal('epoch'), Type.Literal('step'), Type.Literal('average')], {
    description: 'average: the mean of the epoch checkpoints in averaged_from (POST /api/checkpoints/average)',
  }),
  epoch: Type.Integer(),
  step: Type.Integer({ description: 'batches done inside epoch' }),
  global_step: Type.Union([Type.Integer(), Type.Null()]),
  size_mb: Type.Number(),
  created_at: Type.String(),
  metrics: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()]), {
    description: 'val_loss, val_cer, val_wer (fractions) at an epoch end',
  }),
  is_latest: Type.Boolean(),
  is_best: Type.Boolean(),
  run_id: Type.Union([Type.String(), Type.Null()], { description: 'the run that saved it' }),
  resumed_from: Type.Union([Type.String(), Type.Null()], {
    description: 'the checkpoint that run resumed from (null: a fresh start or not recorded)',
  }),
  pinned: Type.Boolean({ description: 'true: retention never deletes it (POST /api/checkpoints/{name}/pin)' }),
  valid: Type.Boolean({ description: 'false: incomplete or corrupt (no valid sidecar); resume skips it' }),
  problem: Type.Optional(Type.String()),
  averaged_from: Type.Optional(
    Type.Array(Type.String(), { description: 'an average only: its inputs, in epoch order' }),
  ),
  test: Type.Optional(
    Type.Array(SplitEvaluationSchema, {
      description: "CER/WER on the dataset's test splits, scored when the run that made it the best ended",
    }),
  ),
});
export type CheckpointEntry = Static<typeof CheckpointEntrySchema>;

/** A `-latest.pt`/`-best.pt` link that leads nowhere or out of the folder (resume never follows it). */
export const BrokenLinkSchema = Type.Object({
  name: Type.String(),
  target: Type.String(),
  valid: Type.Literal(false),
  problem: Type.String(),
});
export type BrokenLink = Static<typeof BrokenLinkSchema>;

export const CheckpointListSchema = Type.Object({
  checkpoints: Type.Array(CheckpointEntrySchema),
  broken_links: Type.Array(BrokenLinkSchema, {
    description: 'latest/best links that lead nowhere or out of the folder (resume never follows them)',
  }),
});
export type CheckpointList = Static<typeof CheckpointListSchema>;

/** The most checkpoints one average reads (one at a time: memory stays at two models whatever N is). */
const MAX_AVERAGE_INPUTS = 1000;

/** POST /api/checkpoints/average and `asr-trainer average`: exactly one of `names` and `last_n`. */
export const AverageRequestSchema = Type.Object(
  {
    model_name: NameSchema('a key of models in config.yaml'),
    dataset_name: NameSchema('a key of datasets in config.yaml; its validation split scores the average'),
    names: Type.Optional(
      Type.Array(CheckpointNameSchema('an epoch checkpoint from GET /api/checkpoints'), {
        maxItems: MAX_AVERAGE_INPUTS,
        description: 'the epoch checkpoints to average (at least 2)',
      }),
    ),
    last_n: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_AVERAGE_INPUTS,
        description: 'average the newest N epoch checkpoints by epoch (at least 2)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type AverageRequest = Static<typeof AverageRequestSchema>;

/** The answer: the committed average, what it was made of and how it scores. */
export const AverageResultSchema = Type.Object({
  name: Type.String({ description: '{model}-{dataset}-avg-{first}-{last}.pt (…-vN.pt when that name was taken)' }),
  averaged_from: Type.Array(Type.String()),
  epoch: Type.Integer({ description: "the last input's epoch, whose position (and schedule) the average carries" }),
  global_step: Type.Integer(),
  metrics: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()]), {
    description: 'val_loss, val_cer, val_wer (fractions) of the average on the validation split',
  }),
  is_best: Type.Boolean({ description: 'the average now holds the lowest val CER of the pair' }),
  size_mb: Type.Number(),
  warnings: Type.Array(Type.String()),
});
export type AverageResult = Static<typeof AverageResultSchema>;
