import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AsrConfig } from '../../config/schema.js';
import { runConfigSnapshot } from '../../config/snapshot.js';
import { AsrTrainerError } from '../../errors.js';
import { MetricsLog, readMetricsHistory } from '../../training/metrics-log.js';
import type { TrainingSupervisor } from '../../training/supervisor.js';
import { ErrorBodySchema, NameSchema } from '../../contract/index.js';

export function metricsRoutes(config: AsrConfig, supervisor: TrainingSupervisor): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/api/metrics/history',
      {
        schema: {
          summary: "A model/dataset pair's metrics.jsonl: step lines (loss, lr) and epoch lines (val loss, CER, WER)",
          description:
            'Defaults to the pair of the current or last run. Lines a resume from an older checkpoint replaced are left out.',
          tags: ['metrics'],
          querystring: Type.Object(
            { model_name: Type.Optional(NameSchema()), dataset_name: Type.Optional(NameSchema()) },
            { additionalProperties: false },
          ),
          response: {
            200: Type.Object({
              model_name: Type.String(),
              dataset_name: Type.String(),
              records: Type.Array(Type.Record(Type.String(), Type.Unknown())),
            }),
            400: ErrorBodySchema,
            401: ErrorBodySchema,
          },
        },
      },
      async (request) => {
        const status = supervisor.status();
        const model = request.query.model_name ?? status.model_name;
        const dataset = request.query.dataset_name ?? status.dataset_name;
        if (!model || !dataset) {
          throw new AsrTrainerError(
            'E_INVALID_ARGUMENT',
            'Give model_name and dataset_name (no run yet to default to)',
          );
        }
        // Only configured pairs: an unknown name is a 400 that lists the known ones, not an empty history.
        runConfigSnapshot(config, model, dataset);
        const log = new MetricsLog(config.paths.runs, model, dataset);
        const records = await readMetricsHistory(log.path);
        return { model_name: model, dataset_name: dataset, records: records as unknown as Record<string, unknown>[] };
      },
    );
  };
}
