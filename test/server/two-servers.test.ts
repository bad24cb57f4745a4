/**
 * Two server processes on one checkpoint folder: the lock is held from the moment a server accepts a
 * start until its trainer exits, so the second server refuses at once (409 E_LOCKED) instead of
 * answering 202 and letting its trainer fail on the lock later.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer, trainerPids, type ServerProcess } from '../chaos/helpers.js';
import { EventStream, get, post } from './client.js';
import { waitUntil } from '../helpers/wait.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';

const REQUEST = { model_name: 'conformer', dataset_name: 'ljspeech', epochs: 10_000 };

describe('two servers on one checkpoint folder', () => {
  let workspace: TestWorkspace;
  const servers: ServerProcess[] = [];

  beforeAll(() => {
    workspace = makeWorkspace({ train: 8, val: 2, batchSize: 2 });
  });
  afterAll(async () => {
    for (const server of servers) server.killGroup();
    await Promise.all(servers.map((s) => s.exited));
    workspace?.cleanup();
  });

  it('the first start is 202, the other server answers 409 E_LOCKED until that trainer exits', async () => {
    const [a, b] = await Promise.all([spawnServer(workspace.configPath), spawnServer(workspace.configPath)]);
    servers.push(a!, b!);
    const first = await post(a!.url, '/api/train/start', REQUEST);
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    // Straight away, before A's trainer has even loaded: the lock is A's from its 202 on.
    const second = await post(b!.url, '/api/train/start', REQUEST);
    expect(second.status, JSON.stringify(second.body)).toBe(409);
    expect(second.body).toMatchObject({ code: 'E_LOCKED', message: expect.stringContaining(`process ${a!.pid}`) });
    expect(trainerPids(b!.pid)).toEqual([]);

    // Still refused while A's trainer trains.
    const events = await EventStream.open(a!.wsUrl);
    await events.waitFor((m) => m.type === 'progress', 90_000);
    expect((await post(b!.url, '/api/train/start', REQUEST)).body.code).toBe('E_LOCKED');

    expect((await post(a!.url, '/api/train/stop', {})).status).toBe(202);
    await events.waitForState(['stopped', 'completed']);
    events.close();
    await waitUntil('A to let go of its trainer', () => (trainerPids(a!.pid).length === 0 ? true : undefined), 30_000);
    const after = await post(b!.url, '/api/train/start', REQUEST);
    expect(after.status, JSON.stringify(after.body)).toBe(202);
    expect((await post(a!.url, '/api/train/start', REQUEST)).body.code).toBe('E_LOCKED');
  });

  it('simultaneous starts on both servers: exactly one 202 and one 409', async () => {
    const [a, b] = servers;
    for (const s of [a!, b!]) await post(s.url, '/api/train/stop', {});
    // Both idle again: each server has seen its trainer exit (and let go of the lock).
    const busy = ['starting', 'running', 'stopping'];
    await waitUntil(
      'both servers idle',
      async () => {
        const states = await Promise.all([a!, b!].map(async (s) => (await get(s.url, '/api/train/status')).body.state));
        return states.some((state) => busy.includes(state)) ? undefined : true;
      },
      60_000,
    );
    const answers = await Promise.all([a!, b!].map((s) => post(s.url, '/api/train/start', REQUEST)));
    expect(answers.map((r) => r.status).sort()).toEqual([202, 409]);
    expect(answers.find((r) => r.status === 409)!.body.code).toBe('E_LOCKED');
  });
});
