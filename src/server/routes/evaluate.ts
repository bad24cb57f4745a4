import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AsrConfig } from '../../config/schema.js';
import { ErrorBodySchema, EvaluateRequestSchema, EvaluateResultSchema } from '../../contract/index.js';
import { evaluateCheckpoint } from '../../evaluation/index.js';
import type { Log } from '../../log.js';

/** POST /api/evaluate: a checkpoint's CER/WER on named splits, scored in a process of its own. */
export function evaluateRoutes(config: AsrConfig, log?: Log): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/api/evaluate',
      {
        schema: {
          summary: "CER/WER of a checkpoint on a dataset's named splits (default: its test splits)",
          description:
            'split is a role (train, validation, test: each split playing it is scored) or one split by name, e.g. test-other. 400 for an unknown model, dataset or split.',
          tags: ['checkpoints'],
          body: EvaluateRequestSchema,
          response: {
            200: EvaluateResultSchema,
            400: ErrorBodySchema,
            401: ErrorBodySchema,
            404: ErrorBodySchema,
            422: ErrorBodySchema,
          },
        },
      },
      async (request) => evaluateCheckpoint(config, request.body, log),
    );
  };
}
