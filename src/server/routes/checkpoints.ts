import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { CheckpointStore } from '../../checkpoints/index.js';
import type { AsrConfig } from '../../config/schema.js';
import { CheckpointListSchema, CheckpointNameSchema, ErrorBodySchema, NameSchema } from '../../contract/index.js';

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
            { model_name: Type.Optional(NameSchema()), dataset_name: Type.Optional(NameSchema()) },
            { additionalProperties: false },
          ),
          response: {
            200: CheckpointListSchema,
            400: ErrorBodySchema,
            401: ErrorBodySchema,
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
            params: Type.Object({ name: CheckpointNameSchema() }),
            response: {
              200: Type.Object({ name: Type.String(), pinned: Type.Boolean() }),
              400: ErrorBodySchema,
              401: ErrorBodySchema,
              404: ErrorBodySchema,
            },
          },
        },
        async (request) => store.setPinned(request.params.name, action === 'pin'),
      );
    }
  };
}
