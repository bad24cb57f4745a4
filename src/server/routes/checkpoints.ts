import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { CheckpointStore } from '../../checkpoints/index.js';
import type { AsrConfig } from '../../config/schema.js';
import { ErrorSchema } from '../schemas.js';

const Name = Type.String({ minLength: 1, maxLength: 100, pattern: '^[a-z0-9][a-z0-9_.-]*$' });

const CheckpointSchema = Type.Object({
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
  valid: Type.Boolean({ description: 'false: incomplete or corrupt (no valid sidecar); resume skips it' }),
  problem: Type.Optional(Type.String()),
});

export function checkpointRoutes(config: AsrConfig): FastifyPluginAsyncTypebox {
  const store = new CheckpointStore({ dir: config.paths.checkpoints });
  return async (app) => {
    app.get(
      '/api/checkpoints',
      {
        schema: {
          summary: 'Checkpoints, newest first (optionally of one model and/or dataset)',
          tags: ['checkpoints'],
          querystring: Type.Object(
            { model_name: Type.Optional(Name), dataset_name: Type.Optional(Name) },
            { additionalProperties: false },
          ),
          response: {
            200: Type.Object({
              checkpoints: Type.Array(CheckpointSchema),
              broken_links: Type.Array(
                Type.Object({ name: Type.String(), target: Type.String(), valid: Type.Literal(false), problem: Type.String() }),
                { description: 'latest/best links that lead nowhere or out of the folder (resume never follows them)' },
              ),
            }),
            400: ErrorSchema,
            401: ErrorSchema,
          },
        },
      },
      async (request) => {
        const filter = { model: request.query.model_name, dataset: request.query.dataset_name };
        const entries = await store.list(filter);
        const brokenLinks = await store.brokenLinks(filter);
        return {
          broken_links: brokenLinks.map((l) => ({ ...l, valid: false as const })),
          checkpoints: entries.map((e) => ({
            name: e.name,
            model_name: e.model_name,
            dataset_name: e.dataset_name,
            kind: e.kind,
            epoch: e.epoch,
            step: e.step,
            global_step: e.global_step,
            size_mb: e.size_mb,
            created_at: e.created_at,
            metrics: e.metrics,
            is_latest: e.is_latest,
            is_best: e.is_best,
            valid: e.valid,
            ...(e.problem ? { problem: e.problem } : {}),
          })),
        };
      },
    );
  };
}
