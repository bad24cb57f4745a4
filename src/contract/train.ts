import { Type, type Static } from '@sinclair/typebox';
import { CheckpointNameSchema, NameSchema } from './names.js';

// Upper bounds: a huge count (1e308 is an "integer" to JSON Schema) would start a run that never ends.
const MAX_EPOCHS = 100_000;
const MAX_BATCH_SIZE = 65_536;
const MAX_SAMPLES = 1_000_000_000;

/** A start or resume: the body of POST /api/train/start and /resume, what the CLI and TrainingRun.prepare take. */
export const TrainRequestSchema = Type.Object(
  {
    model_name: NameSchema('a key of models in config.yaml (GET /api/models)'),
    dataset_name: NameSchema('a key of datasets in config.yaml (GET /api/datasets)'),
    epochs: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_EPOCHS,
        description: 'TOTAL epochs, counted across resumes (default training.epochs)',
      }),
    ),
    batch_size: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_BATCH_SIZE, description: 'default training.batch_size' }),
    ),
    lightweight: Type.Optional(Type.Boolean({ description: 'limit the training set to training.lightweight_samples' })),
    limit_samples: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: MAX_SAMPLES }), Type.Null()], {
        description: 'cap on training utterances',
      }),
    ),
    resume_from_checkpoint: Type.Optional(Type.Boolean({ description: 'default training.auto_resume' })),
    specific_checkpoint: Type.Optional(
      Type.Union([CheckpointNameSchema(), Type.Null()], {
        description: 'a checkpoint name from GET /api/checkpoints; implies resume_from_checkpoint',
      }),
    ),
  },
  { additionalProperties: false },
);
export type TrainRequest = Static<typeof TrainRequestSchema>;

/** The 202 answer of a start or resume: what the run will do, known before the trainer loads any data. */
export const TrainStartedSchema = Type.Object({
  status: Type.Literal('started'),
  run_id: Type.String(),
  resumed_from: Type.Union([Type.String(), Type.Null()]),
  start_epoch: Type.Integer(),
  start_step: Type.Integer({ description: 'batches of start_epoch already trained (mid-epoch checkpoint)' }),
  epochs: Type.Integer(),
  warnings: Type.Array(Type.String()),
});
export type TrainStarted = Static<typeof TrainStartedSchema>;

export const TrainStoppingSchema = Type.Object({ status: Type.Literal('stopping') });
export type TrainStopping = Static<typeof TrainStoppingSchema>;
