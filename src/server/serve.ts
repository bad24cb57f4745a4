import type { FastifyInstance } from 'fastify';
import type { AsrConfig } from '../config/schema.js';
import { buildApp, type BuildAppOptions } from './app.js';

export interface ServeOptions extends BuildAppOptions {
  /** Install SIGTERM/SIGINT handlers that stop a run gracefully and exit (default true). */
  handleSignals?: boolean;
  /** Overrides server.port (0 picks a free port). */
  port?: number;
  host?: string;
}

export interface RunningServer {
  app: FastifyInstance;
  /** http://host:port the server listens on. */
  url: string;
  /** Stops a running trainer gracefully (it saves a checkpoint), closes sockets and the listener. */
  close(): Promise<void>;
}

/** Builds the app and listens on server.host:server.port (127.0.0.1:8000 by default). */
export async function serve(config: AsrConfig, options: ServeOptions = {}): Promise<RunningServer> {
  const app = await buildApp(config, { logger: { level: 'info' }, ...options });
  const host = options.host ?? config.server.host;
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => (closing ??= app.close());

  if (options.handleSignals ?? true) {
    let firstSignalAt = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      const now = Date.now();
      // A Ctrl-C reaches npm/tsx and this process alike, and they relay it: a repeat within a second is
      // the same keypress, not a second request.
      if (firstSignalAt > 0 && now - firstSignalAt < 1000) return;
      if (firstSignalAt > 0) {
        // A second Ctrl-C: the user does not want to wait for the checkpoint.
        app.log.warn(`${signal} again: exiting now; the last committed checkpoint stays valid`);
        app.supervisor.killWorkers();
        process.exit(130);
      }
      firstSignalAt = now;
      app.log.info(
        `${signal}: stopping the run gracefully (saving a checkpoint), then exiting; press again to exit now`,
      );
      close().then(
        () => process.exit(0),
        (err: unknown) => {
          app.log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    app.addHook('onClose', async () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    });
  }
  await app.listen({ host, port: options.port ?? config.server.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  app.log.info(`asr-trainer API on ${url} (docs: ${url}/docs, events: ${url.replace(/^http/, 'ws')}/ws)`);
  return { app, url, close };
}
