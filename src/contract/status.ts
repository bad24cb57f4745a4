import { Type, type Static } from '@sinclair/typebox';

export const TrainingStateSchema = Type.Union([
  Type.Literal('idle'),
  Type.Literal('starting'),
  Type.Literal('running'),
  Type.Literal('stopping'),
  Type.Literal('completed'),
  Type.Literal('failed'),
  Type.Literal('stopped'),
]);
export type TrainingState = Static<typeof TrainingStateSchema>;

/** Why a run ended `failed` (or `stopped` by the kill after the stop timeout). */
export const RunFailureSchema = Type.Object({
  message: Type.String(),
  code: Type.Optional(Type.String()),
  signal: Type.Optional(
    Type.Union([Type.String(), Type.Null()], { description: 'the signal that ended the trainer, e.g. SIGKILL' }),
  ),
  exit_code: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  last_logs: Type.Optional(
    Type.Array(Type.String(), { description: 'the last log lines before the failure, oldest first' }),
  ),
  rank: Type.Optional(
    Type.Integer({ minimum: 0, description: 'data-parallel runs: the rank (worker process) whose end failed the run' }),
  ),
});
export type RunFailure = Static<typeof RunFailureSchema>;

const NullableNumber = () => Type.Union([Type.Number(), Type.Null()]);
const NullableString = () => Type.Union([Type.String(), Type.Null()]);

/** The current or last run: GET /api/train/status and the WebSocket `status` event. */
export const StatusSchema = Type.Object({
  state: TrainingStateSchema,
  run_id: NullableString(),
  model_name: NullableString(),
  dataset_name: NullableString(),
  epoch: NullableNumber(),
  epochs: NullableNumber(),
  step: NullableNumber(),
  global_step: NullableNumber(),
  loss: NullableNumber(),
  lr: NullableNumber(),
  resumed_from: NullableString(),
  world_size: Type.Integer({ minimum: 1, description: 'worker processes training the run (1: one process)' }),
  restarts: Type.Integer({
    minimum: 0,
    description: 'times the worker group was restarted from the latest checkpoint (distributed.max_restarts)',
  }),
  error: Type.Optional(RunFailureSchema),
  reason: Type.Optional(
    Type.String({ description: 'why a completed run ended before its last epoch (early stopping), in words' }),
  ),
});
export type StatusPayload = Static<typeof StatusSchema>;
