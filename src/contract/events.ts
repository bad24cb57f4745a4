import { Type, type Static } from '@sinclair/typebox';
import { StatusSchema } from './status.js';

/**
 * What a training run reports. The same shapes travel from the run to the supervisor (IPC) and to the
 * WebSocket clients as `{type, payload}`. Rates (CER, WER) are fractions: 0.046 is 4.6 %.
 */
export const LogLevelSchema = Type.Union([
  Type.Literal('debug'),
  Type.Literal('info'),
  Type.Literal('warning'),
  Type.Literal('error'),
]);
export type LogLevel = Static<typeof LogLevelSchema>;

export const LogPayloadSchema = Type.Object({
  level: LogLevelSchema,
  message: Type.String(),
  timestamp: Type.String({ description: 'ISO 8601' }),
});
export type LogPayload = Static<typeof LogPayloadSchema>;

export const ProgressPayloadSchema = Type.Object({
  run_id: Type.String(),
  epoch: Type.Integer(),
  step: Type.Integer({ description: 'steps done in this epoch, 1-based after the first step' }),
  global_step: Type.Integer(),
  steps_per_epoch: Type.Integer(),
  loss: Type.Number(),
  lr: Type.Number(),
  utterances_per_s: Type.Number(),
  rank_step_s: Type.Optional(
    Type.Array(Type.Number(), {
      description:
        "data-parallel runs: each rank's time for this step in seconds, index = rank (the slowest sets the pace)",
    }),
  ),
});
export type ProgressPayload = Static<typeof ProgressPayloadSchema>;

/** A checkpoint committed (sidecar written, links moved). */
export const CheckpointPayloadSchema = Type.Object({
  name: Type.String(),
  epoch: Type.Integer(),
  step: Type.Integer(),
  size_mb: Type.Number(),
  save_s: Type.Optional(
    Type.Number({ description: "seconds from the state's snapshot to the commit (training goes on meanwhile)" }),
  ),
});
export type CheckpointPayload = Static<typeof CheckpointPayloadSchema>;

/** An epoch's validation: of the trained weights, and with training.ema_decay > 0 of their moving average. */
export const MetricsPayloadSchema = Type.Object({
  epoch: Type.Integer(),
  val_loss: Type.Number(),
  val_cer: Type.Number(),
  val_wer: Type.Number(),
  val_loss_ema: Type.Optional(Type.Number({ description: 'the moving average of the weights (ema_decay > 0)' })),
  val_cer_ema: Type.Optional(Type.Number({ description: 'the moving average of the weights (ema_decay > 0)' })),
  val_wer_ema: Type.Optional(Type.Number({ description: 'the moving average of the weights (ema_decay > 0)' })),
});
export type MetricsPayload = Static<typeof MetricsPayloadSchema>;

const event = <K extends string, P extends ReturnType<typeof Type.Object>>(type: K, payload: P) =>
  Type.Object({ type: Type.Literal(type), payload });

export const TrainingEventSchema = Type.Union([
  event('log', LogPayloadSchema),
  event('status', StatusSchema),
  event('progress', ProgressPayloadSchema),
  event('checkpoint', CheckpointPayloadSchema),
  event('metrics', MetricsPayloadSchema),
]);
export type TrainingEvent = Static<typeof TrainingEventSchema>;
