/** A real server on port 0 and a real WebSocket client that records what arrives. */
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { buildApp, type BuildAppOptions } from '../../src/server/app.js';
import { makeWorkspace, type TestWorkspace, type WorkspaceOptions } from '../helpers/workspace.js';

/**
 * A parsed JSON body or event payload. The tests read fields the assertions then check, so the shape is
 * theirs to state; one named alias instead of `any` at every call site.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

export interface TestServer {
  app: FastifyInstance;
  url: string;
  wsUrl: string;
  close(): Promise<void>;
}

export async function startServer(workspace: TestWorkspace, options: BuildAppOptions = {}): Promise<TestServer> {
  const app = await buildApp(workspace.config, { dashboard: false, ...options });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    close: () => app.close(),
  };
}

export interface Message {
  type: string;
  payload: Json;
}

/** Collects every /ws message; `waitFor` resolves with the first (past or future) that matches. */
export class EventStream {
  readonly messages: Message[] = [];
  private waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  closeCode: number | null = null;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as Message;
      this.messages.push(message);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(message)) return true;
        w.resolve(message);
        return false;
      });
    });
    socket.on('close', (code) => (this.closeCode = code));
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<EventStream> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      const stream = new EventStream(socket);
      socket.once('open', () => resolve(stream));
      socket.once('error', reject);
    });
  }

  of(type: string): Json[] {
    return this.messages.filter((m) => m.type === type).map((m) => m.payload);
  }

  /** From message index `from` on (default: all so far and later). */
  waitFor(match: (m: Message) => boolean, timeoutMs = 60_000, from = 0): Promise<Message> {
    const past = this.messages.slice(from).find(match);
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching /ws message within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** The next `status` whose state is one of `states`, after message index `from`. */
  waitForState(states: string[], from = this.messages.length, timeoutMs = 120_000): Promise<Message> {
    return this.waitFor((m) => m.type === 'status' && states.includes(m.payload.state), timeoutMs, from);
  }

  close(): void {
    this.socket.close();
  }
}

export async function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

export async function get(base: string, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(base + path, { headers });
  return { status: response.status, body: (await response.json()) as Json };
}

/** What most server suites start from: a workspace, a real server on it and an open /ws event stream. */
export interface ServedWorkspace {
  workspace: TestWorkspace;
  server: TestServer;
  events: EventStream;
}

export async function serveWorkspace(options: WorkspaceOptions): Promise<ServedWorkspace> {
  const workspace = makeWorkspace(options);
  const server = await startServer(workspace);
  return { workspace, server, events: await EventStream.open(server.wsUrl) };
}

/** Undoes serveWorkspace, also after a set-up that failed half-way (the missing parts are undefined). */
export async function closeServedWorkspace(served: Partial<ServedWorkspace>): Promise<void> {
  served.events?.close();
  await served.server?.close();
  served.workspace?.cleanup();
}
