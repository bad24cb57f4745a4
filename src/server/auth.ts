import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errorBody } from './errors.js';

/** Paths that never need the token: the liveness probe. */
const OPEN_PATHS = new Set(['/api/health']);

/** The dashboard's static shell carries no data; the API, its docs, /ws and /metrics do. */
function isProtected(path: string): boolean {
  if (OPEN_PATHS.has(path)) return false;
  return (
    path.startsWith('/api/') || path === '/ws' || path === '/metrics' || path === '/docs' || path.startsWith('/docs/')
  );
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Bearer header, or `?token=` on /ws because browsers cannot set headers on a WebSocket. */
function presentedToken(request: FastifyRequest, path: string): string | null {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (match) return match[1];
  }
  if (path === '/ws') {
    const query = request.query as Record<string, unknown> | undefined;
    if (query && typeof query.token === 'string') return query.token;
  }
  return null;
}

/** Token auth when `token` is non-empty; compares digests in constant time. */
export function installAuth(app: FastifyInstance, token: string): void {
  if (!token) return;
  const expected = digest(token);
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0];
    if (!isProtected(path)) return;
    const presented = presentedToken(request, path);
    if (presented !== null && timingSafeEqual(digest(presented), expected)) return;
    const message =
      presented === null
        ? 'Authentication required: send "Authorization: Bearer <token>" (server.api_token / ASR_API_TOKEN)'
        : 'Invalid API token';
    // A refused WebSocket upgrade must not leave its socket open (it would hold server.close()).
    if (path === '/ws') {
      void reply.header('connection', 'close');
      reply.raw.once('finish', () => request.raw.socket.destroySoon());
    }
    return reply.code(401).header('WWW-Authenticate', 'Bearer').send(errorBody('E_UNAUTHORIZED', message));
  });
}
