import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { TrainingSupervisor } from '../../training/supervisor.js';
import { ErrorSchema } from '../schemas.js';

const name = (description: string) =>
  Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description });

const MAX_EPOCHS = 100_000;
const MAX_BATCH_SIZE = 65_536;
const MAX_SAMPLES = 1_000_000_000;

export const TrainRequestSchema = Type.Object(
  {
    model_name: name('a key of models in config.yaml (GET /api/models)'),
    dataset_name: name('a key of datasets in config.yaml (GET /api/datasets)'),
    // Upper bounds: a huge count (1e308 is an "integer" to JSON Schema) would start a run that never ends.
    epochs: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_EPOCHS, description: 'TOTAL epochs, counted across resumes (default training.epochs)' }),
    ),
    batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_BATCH_SIZE, description: 'default training.batch_size' })),
    lightweight: Type.Optional(Type.Boolean({ description: 'limit the training set to training.lightweight_samples' })),
    limit_samples: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: MAX_SAMPLES }), Type.Null()], { description: 'cap on training utterances' }),
    ),
    resume_from_checkpoint: Type.Optional(Type.Boolean({ description: 'default training.auto_resume' })),
    specific_checkpoint: Type.Optional(
      Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Null()], {
        description: 'a checkpoint name from GET /api/checkpoints; implies resume_from_checkpoint',
      }),
    ),
  },
  { additionalProperties: false },
);
export type TrainRequestBody = Static<typeof TrainRequestSchema>;

const StartedSchema = Type.Object({
  status: Type.Literal('started'),
  run_id: Type.String(),
  resumed_from: Type.Union([Type.String(), Type.Null()]),
  start_epoch: Type.Integer(),
  start_step: Type.Integer({ description: 'batches of start_epoch already trained (mid-epoch checkpoint)' }),
  epochs: Type.Integer(),
  warnings: Type.Array(Type.String()),
});

const FailureSchema = Type.Object({
  message: Type.String(),
  code: Type.Optional(Type.String()),
  signal: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  exit_code: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  last_logs: Type.Optional(Type.Array(Type.String())),
});

const Nullable = <T extends ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);

export const StatusSchema = Type.Object({
  state: Type.Union(['idle', 'starting', 'running', 'stopping', 'completed', 'failed', 'stopped'].map((s) => Type.Literal(s))),
  run_id: Type.Union([Type.String(), Type.Null()]),
  model_name: Type.Union([Type.String(), Type.Null()]),
  dataset_name: Type.Union([Type.String(), Type.Null()]),
  epoch: Nullable(Type.Number()),
  epochs: Nullable(Type.Number()),
  step: Nullable(Type.Number()),
  global_step: Nullable(Type.Number()),
  loss: Nullable(Type.Number()),
  lr: Nullable(Type.Number()),
  resumed_from: Type.Union([Type.String(), Type.Null()]),
  error: Type.Optional(FailureSchema),
});

const errors = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 415: ErrorSchema, 422: ErrorSchema };

export function trainRoutes(supervisor: TrainingSupervisor): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/api/train/start',
      {
        schema: {
          summary: 'Start training; resumes the latest valid checkpoint unless resume_from_checkpoint is false',
          tags: ['training'],
          body: TrainRequestSchema,
          response: { 202: StartedSchema, ...errors },
        },
      },
      async (request, reply) => {
        const plan = await supervisor.start(request.body);
        return reply.code(202).send(started(plan));
      },
    );

    app.post(
      '/api/train/resume',
      {
        schema: {
          summary: 'Resume training from the latest (or the named) checkpoint; 404 when there is none',
          tags: ['training'],
          body: TrainRequestSchema,
          response: { 202: StartedSchema, ...errors },
        },
      },
      async (request, reply) => {
        const plan = await supervisor.start({ ...request.body, resume_from_checkpoint: true }, { mustResume: true });
        return reply.code(202).send(started(plan));
      },
    );

    app.post(
      '/api/train/stop',
      {
        schema: {
          summary: 'Stop the run: it finishes the current step, saves a checkpoint and exits',
          tags: ['training'],
          response: { 202: Type.Object({ status: Type.Literal('stopping') }), ...errors },
        },
      },
      async (_request, reply) => reply.code(202).send(supervisor.stop()),
    );

    app.get(
      '/api/train/status',
      { schema: { summary: 'The current or last run', tags: ['training'], response: { 200: StatusSchema, 401: ErrorSchema } } },
      async () => supervisor.status(),
    );
  };
}

function started(plan: Awaited<ReturnType<TrainingSupervisor['start']>>): Static<typeof StartedSchema> {
  return {
    status: 'started',
    run_id: plan.run_id,
    resumed_from: plan.resumed_from,
    start_epoch: plan.start_epoch,
    start_step: plan.start_step,
    epochs: plan.epochs,
    warnings: plan.warnings,
  };
}
