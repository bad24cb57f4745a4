import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { CheckpointStore } from '../../checkpoints/index.js';
import type { AsrConfig } from '../../config/schema.js';
import type { Log } from '../../log.js';
import { averageCheckpoints } from '../../averaging/index.js';
import {
  AverageRequestSchema,
  AverageResultSchema,
  CheckpointListSchema,
  CheckpointNameSchema,
  ErrorBodySchema,
  NameSchema,
} from '../../contract/index.js';

export interface CheckpointRoutesOptions {
  /** Where the averaging's log lines go (the server's log). */
  log?: Log;
}

export function checkpointRoutes(config: AsrConfig, options: CheckpointRoutesOptions = {}): FastifyPluginAsyncTypebox {
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
        return { checkpoints: await store.list(filter), broken_links: await store.brokenLinks(filter) };
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

    app.post(
      '/api/checkpoints/average',
      {
        schema: {
          summary:
            'Average epoch checkpoints into {model}-{dataset}-avg-{first}-{last}.pt, scored on the validation split',
          description:
            "Give exactly one of names and last_n (at least 2 checkpoints). The average keeps the last input's position; a run resumed from it restarts the optimizer moments. 409 E_LOCKED while a run trains the pair.",
          tags: ['checkpoints'],
          body: AverageRequestSchema,
          response: {
            201: AverageResultSchema,
            400: ErrorBodySchema,
            401: ErrorBodySchema,
            404: ErrorBodySchema,
            409: ErrorBodySchema,
            422: ErrorBodySchema,
          },
        },
      },
      async (request, reply) => {
        const result = await averageCheckpoints(config, request.body, { log: options.log });
        return reply.code(201).send(result);
      },
    );
  };
}
