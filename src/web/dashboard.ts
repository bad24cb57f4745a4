/**
 * The Fastify plugin that serves the dashboard at `/`: the static page (src/web/static), the compiled
 * client (dist/web, from `npm run build:web`) and uPlot's dist files at /vendor/uplot/.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { packageRoot } from '../package-root.js';

export const dashboardPaths = (() => {
  const root = packageRoot();
  if (root === null)
    throw new Error("asr-trainer: cannot find the package root (asr-trainer's package.json) that holds src/web/static");
  return {
    staticDir: join(root, 'src', 'web', 'static'),
    clientDir: join(root, 'dist', 'web'),
    uplotDir: join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist'),
  };
})();

export function isDashboardBuilt(): boolean {
  return existsSync(join(dashboardPaths.clientDir, 'app.js'));
}

/** Stand-in client when the build step has not run: the page says how to fix it instead of staying blank. */
const NOT_BUILT_SCRIPT = `document.body.insertAdjacentHTML('afterbegin',
  '<p class="error">The dashboard client is not built: run <code>npm run build:web</code> (or <code>npm run setup</code>) and reload.</p>');`;

export async function dashboardPlugin(app: FastifyInstance): Promise<void> {
  const built = isDashboardBuilt();
  if (!built) {
    app.log.warn('dashboard client not built (dist/web/app.js missing): run `npm run build:web`');
    app.get('/app.js', async (_request, reply) => reply.type('text/javascript').send(NOT_BUILT_SCRIPT));
  }
  await app.register(fastifyStatic, {
    root: built ? [dashboardPaths.staticDir, dashboardPaths.clientDir] : dashboardPaths.staticDir,
    prefix: '/',
    index: 'index.html',
    wildcard: false,
  });
  await app.register(fastifyStatic, {
    root: dashboardPaths.uplotDir,
    prefix: '/vendor/uplot/',
    decorateReply: false,
    wildcard: false,
  });
}
