/** `asr-trainer serve`: the HTTP + WebSocket API and the dashboard, until Ctrl-C (which stops a run gracefully). */

import { loadConfig } from '../../config/index.js';
import { serve } from '../../server/index.js';

export interface ServeCommandOptions {
  config?: string;
  host?: string;
  port?: number;
}

export async function serveCommand(options: ServeCommandOptions): Promise<void> {
  const config = loadConfig({ path: options.config });
  const server = await serve(config, { host: options.host, port: options.port });
  process.stdout.write(`dashboard: ${server.url}/  (API docs: ${server.url}/docs)\n`);
}
