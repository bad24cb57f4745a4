import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AsrConfig } from '../../config/schema.js';
import { modelDimensionsOf } from '../../config/models.js';
import { datasetAvailability } from '../../data/dataset.js';
import type { TrainingSupervisor } from '../../training/supervisor.js';
import { ErrorBodySchema } from '../../contract/index.js';

const DatasetSchema = Type.Object({
  name: Type.String(),
  path: Type.String(),
  available: Type.Boolean({ description: 'the folder holds metadata.csv' }),
  problem: Type.Optional(Type.String({ description: 'what is missing and how to get it, when not available' })),
});

const ModelSchema = Type.Object({
  name: Type.String(),
  preset: Type.Union([Type.String(), Type.Null()]),
  d_model: Type.Integer(),
  num_layers: Type.Integer(),
  num_heads: Type.Integer(),
  ffn_dim: Type.Integer(),
  conv_kernel: Type.Integer(),
  dropout: Type.Number(),
});

export function catalogRoutes(config: AsrConfig, supervisor: TrainingSupervisor): FastifyPluginAsyncTypebox {
  const startedAt = Date.now();
  return async (app) => {
    app.get(
      '/api/datasets',
      {
        schema: {
          summary: 'Configured datasets and whether their folders are present',
          tags: ['catalog'],
          response: { 200: Type.Object({ datasets: Type.Array(DatasetSchema) }), 401: ErrorBodySchema },
        },
      },
      async () => ({
        datasets: Object.keys(config.datasets).map((name) => datasetAvailability(config, name)),
      }),
    );

    app.get(
      '/api/models',
      {
        schema: {
          summary: 'Configured models and their resolved dimensions',
          tags: ['catalog'],
          response: { 200: Type.Object({ models: Type.Array(ModelSchema) }), 401: ErrorBodySchema },
        },
      },
      async () => ({
        models: Object.entries(config.models).map(([name, entry]) => ({
          name,
          preset: entry.preset ?? null,
          ...modelDimensionsOf(entry),
        })),
      }),
    );

    app.get(
      '/api/health',
      {
        schema: {
          summary: 'Liveness; open without a token',
          tags: ['catalog'],
          response: {
            200: Type.Object({ status: Type.Literal('ok'), uptime_s: Type.Number(), training_state: Type.String() }),
          },
        },
      },
      async () => ({
        status: 'ok' as const,
        uptime_s: (Date.now() - startedAt) / 1000,
        training_state: supervisor.status().state,
      }),
    );
  };
}
