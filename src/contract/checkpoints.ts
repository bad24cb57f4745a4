import { Type, type Static } from '@sinclair/typebox';

/** One entry of GET /api/checkpoints. */
export const CheckpointEntrySchema = Type.Object({
  name: Type.String(),
  model_name: Type.String(),
  dataset_name: Type.String(),
  kind: Type.Union([Type.Literal('epoch'), Type.Literal('step')]),
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
