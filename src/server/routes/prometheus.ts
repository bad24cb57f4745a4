import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorBodySchema } from '../../contract/index.js';
import type { RunMetrics } from '../run-metrics.js';

/**
 * GET /metrics in Prometheus' text format. With an API token it needs `Authorization: Bearer` like every
 * route but /api/health: Prometheus sends one from its scrape config (README "Distributed training").
 */
export function prometheusRoutes(metrics: RunMetrics): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/metrics',
      {
        schema: {
          summary: 'The run and this server process as Prometheus metrics (text format 0.0.4)',
          description:
            'asr_trainer_*: run state, world size, restarts, epoch, global step, loss, learning rate, utterances/s, ' +
            'step time per rank, checkpoints and validation; plus the default process and Node.js metrics.',
          tags: ['metrics'],
          produces: ['text/plain'],
          response: { 200: Type.String({ description: 'Prometheus text format 0.0.4' }), 401: ErrorBodySchema },
        },
      },
      async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()),
    );
  };
}
