import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AsrConfig } from '../config/schema.js';
import { logTo } from '../log.js';
import { TranscriptionProcess } from '../transcribe/process.js';
import { TrainingSupervisor, type SupervisorOptions } from '../training/supervisor.js';
import { dashboardPlugin } from '../web/dashboard.js';
import { installAuth } from './auth.js';
import { clientErrorHandler, errorBody, installErrorHandlers } from './errors.js';
import { catalogRoutes } from './routes/catalog.js';
import { checkpointRoutes } from './routes/checkpoints.js';
import { evaluateRoutes } from './routes/evaluate.js';
import { metricsRoutes } from './routes/metrics.js';
import { prometheusRoutes } from './routes/prometheus.js';
import { trainRoutes } from './routes/train.js';
import { transcribeRoutes } from './routes/transcribe.js';
import { RunMetrics } from './run-metrics.js';
import { WsHub, type WsHubOptions } from './ws-hub.js';

export interface BuildAppOptions {
  logger?: FastifyServerOptions['logger'];
  /** Largest accepted request body in bytes (requests here are small JSON objects). */
  bodyLimit?: number;
  /** Overrides server.api_token / ASR_API_TOKEN (tests). */
  apiToken?: string;
  supervisor?: SupervisorOptions;
  ws?: WsHubOptions;
  /** Serve the dashboard at / (default true). */
  dashboard?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    supervisor: TrainingSupervisor;
    /** POST /api/transcribe's child process (`pid` for tests and operators). */
    transcriber: TranscriptionProcess;
    wsHub: WsHub;
  }
}

/** The API token in effect: loadConfig has already let ASR_API_TOKEN override server.api_token. */
export function effectiveApiToken(config: AsrConfig): string {
  return config.server.api_token;
}

/**
 * The whole HTTP + WebSocket API without listening: tests use inject() or listen({port: 0}); serve()
 * listens on server.host:port. Closing the app stops a running trainer gracefully first and ends the
 * transcription process once the requests in flight are answered.
 */
export async function buildApp(config: AsrConfig, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    // Unknown body keys are an error (a typo like "epoch" must not be silently dropped), and so is a
    // wrong type: Fastify's default coercion turned "10", [5], true and null into numbers and started runs.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    // Malformed HTTP (bad framing, oversized headers) is answered in the API's error shape too.
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only: without the text/plain parser any other content type is answered 415.
  app.removeContentTypeParser('text/plain');
  // `curl -X POST …/stop -H 'Content-Type: application/json'` sends no body: that is "no body", not bad JSON.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text === '') done(null, undefined);
    else parseJson(request, text, done);
  });

  const supervisor = new TrainingSupervisor(config, {
    prestart: config.server.prestart_trainer,
    ...options.supervisor,
  });
  const hub = new WsHub(options.ws);
  supervisor.on('event', (event) => hub.broadcast(event));
  const runMetrics = new RunMetrics(supervisor.status());
  supervisor.on('event', (event) => runMetrics.observe(event));
  app.decorate('supervisor', supervisor);
  app.decorate('wsHub', hub);
  app.addHook('preClose', async () => {
    await supervisor.shutdown();
    hub.closeAll();
  });
  const log = logTo(app.log);
  const transcriber = new TranscriptionProcess(config, { log });
  app.decorate('transcriber', transcriber);
  app.addHook('onClose', () => transcriber.close());

  installErrorHandlers(app);
  const apiToken = options.apiToken ?? effectiveApiToken(config);
  installAuth(app, apiToken);

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'asr-trainer',
        description:
          'Conformer-CTC training that never loses progress: start, stop, resume, checkpoints. Events on /ws.',
        version: '0.1.0',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      // With a token configured, the "Authorize" button of /docs sends it on every call.
      ...(apiToken ? { security: [{ bearer: [] }] } : {}),
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });

  await app.register(trainRoutes(supervisor));
  await app.register(checkpointRoutes(config, { log }));
  await app.register(evaluateRoutes(config, log));
  await app.register(catalogRoutes(config, supervisor));
  await app.register(metricsRoutes(config, supervisor));
  await app.register(prometheusRoutes(runMetrics));
  await app.register(
    transcribeRoutes(transcriber, {
      defaultPair: () => {
        const { model_name, dataset_name } = supervisor.status();
        return { model_name, dataset_name };
      },
    }),
  );
  app.route({
    method: 'GET',
    url: '/ws',
    schema: { hide: true },
    // A plain GET (no Upgrade header) gets the error shape instead of an empty 404.
    handler: async (_request, reply) =>
      reply
        .code(426)
        .header('upgrade', 'websocket')
        .send(errorBody('E_UPGRADE_REQUIRED', 'GET /ws is a WebSocket endpoint: connect with a WebSocket client')),
    wsHandler: (socket) => hub.add(socket, supervisor.status(), supervisor.recentLogs()),
  });
  if (options.dashboard ?? true) await app.register(dashboardPlugin);
  return app;
}
