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
  run_id: Type.Union([Type.String(), Type.Null()], { description: 'the run that saved it' }),
  resumed_from: Type.Union([Type.String(), Type.Null()], {
    description: 'the checkpoint that run resumed from (null: a fresh start or not recorded)',
  }),
  pinned: Type.Boolean({ description: 'true: retention never deletes it (POST /api/checkpoints/{name}/pin)' }),
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
            run_id: e.run_id,
            resumed_from: e.resumed_from,
            pinned: e.pinned,
            valid: e.valid,
            ...(e.problem ? { problem: e.problem } : {}),
          })),
        };
      },
    );

    for (const action of ['pin', 'unpin'] as const) {
      app.post(
        `/api/checkpoints/:name/${action}`,
        {
          schema: {
            summary:
              action === 'pin'
                ? 'Pin a checkpoint: retention never deletes it'
                : 'Unpin a checkpoint: retention treats it like any other',
            tags: ['checkpoints'],
            params: Type.Object({ name: Type.String({ minLength: 1, maxLength: 255 }) }),
            response: {
              200: Type.Object({ name: Type.String(), pinned: Type.Boolean() }),
              400: ErrorSchema,
              401: ErrorSchema,
              404: ErrorSchema,
            },
          },
        },
        async (request) => store.setPinned(request.params.name, action === 'pin'),
      );
    }
  };
}
