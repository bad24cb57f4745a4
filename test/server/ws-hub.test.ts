import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logEvent } from '../../src/training/events.js';
import { WS_CLOSE_TOO_SLOW } from '../../src/server/ws-hub.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { EventStream, startServer, type TestServer } from './client.js';

describe('/ws fan-out', () => {
  let workspace: TestWorkspace;
  let server: TestServer;
  beforeAll(async () => {
    workspace = makeWorkspace();
    server = await startServer(workspace, { ws: { maxBufferedBytes: 256 * 1024, closeGraceMs: 30_000 } });
  });
  afterAll(async () => {
    await server.close();
    workspace.cleanup();
  });

  it('drops a client that stops reading with a 4000-range close code while the others get every event', async () => {
    const slow = await EventStream.open(server.wsUrl);
    const fast = await EventStream.open(server.wsUrl);
    await slow.waitFor((m) => m.type === 'status', 5000);
    await fast.waitFor((m) => m.type === 'status', 5000);
    // The slow reader's TCP socket stops being read: its bytes pile up in the server's send buffer.
    const raw = (slow.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    raw.pause();
    const filler = 'x'.repeat(4096);
    const total = 3000;
    for (let i = 0; i < total; i++) {
      server.app.wsHub.broadcast(logEvent('debug', `${i} ${filler}`));
      // Let the event loop flush sockets now and then, as training does between steps.
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(server.app.wsHub.size).toBe(1);
    await fast.waitFor((m) => m.type === 'log' && String(m.payload.message).startsWith(`${total - 1} `), 30_000);
    expect(fast.of('log')).toHaveLength(total);
    raw.resume();
    await new Promise<void>((resolve) => slow.socket.once('close', () => resolve()));
    expect(slow.closeCode).toBe(WS_CLOSE_TOO_SLOW);
    expect(slow.of('log').length).toBeLessThan(total);
    fast.close();
  });
});
