import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CheckpointStore } from '../../src/checkpoints/index.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { EventStream, get, post, startServer, type TestServer } from './client.js';

const base = { model_name: 'conformer', dataset_name: 'ljspeech' };

describe('HTTP API without training', () => {
  let workspace: TestWorkspace;
  let server: TestServer;
  beforeAll(async () => {
    workspace = makeWorkspace();
    server = await startServer(workspace);
  });
  afterAll(async () => {
    await server.close();
    workspace.cleanup();
  });

  it('answers health, status, models and datasets', async () => {
    expect((await get(server.url, '/api/health')).body).toMatchObject({ status: 'ok', training_state: 'idle' });
    expect((await get(server.url, '/api/train/status')).body).toMatchObject({ state: 'idle', run_id: null });
    const models = (await get(server.url, '/api/models')).body.models;
    expect(models.map((m: { name: string }) => m.name)).toEqual(['conformer', 'conformer-ref']);
    expect(models[0]).toMatchObject({ d_model: 32, num_layers: 2 });
    const datasets = (await get(server.url, '/api/datasets')).body.datasets;
    expect(datasets.find((d: { name: string }) => d.name === 'ljspeech').available).toBe(true);
    const missing = datasets.find((d: { name: string }) => d.name === 'missing-set');
    expect(missing.available).toBe(false);
    expect(missing.problem).toMatch(/does not exist/);
  });

  it("returns the guide's two 404 texts when there is nothing to resume", async () => {
    const none = await post(server.url, '/api/train/resume', { ...base, epochs: 10 });
    expect(none.status).toBe(404);
    expect(none.body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: "No checkpoint found for model 'conformer' and dataset 'ljspeech'",
      code: 'E_NO_CHECKPOINT',
      details: { model_name: 'conformer', dataset_name: 'ljspeech' },
    });
    for (const path of ['/api/train/start', '/api/train/resume']) {
      const missing = await post(server.url, path, {
        ...base,
        specific_checkpoint: 'invalid-checkpoint',
        resume_from_checkpoint: true,
      });
      expect(missing.status).toBe(404);
      expect(missing.body).toMatchObject({
        message: "Specified checkpoint 'invalid-checkpoint' not found",
        code: 'E_CHECKPOINT_NOT_FOUND',
      });
    }
    expect((await get(server.url, '/api/train/status')).body.state).toBe('idle');
  });

  it('rejects unknown models and datasets listing the known ones, and a missing dataset folder with the fix', async () => {
    const model = await post(server.url, '/api/train/start', { ...base, model_name: 'whisper' });
    expect(model.status).toBe(400);
    expect(model.body).toMatchObject({ code: 'E_UNKNOWN_MODEL', statusCode: 400, error: 'Bad Request' });
    expect(model.body.message).toContain('conformer, conformer-ref');
    const dataset = await post(server.url, '/api/train/start', { ...base, dataset_name: 'librispeech' });
    expect(dataset.status).toBe(400);
    expect(dataset.body.code).toBe('E_UNKNOWN_DATASET');
    expect(dataset.body.message).toContain('ljspeech, missing-set');
    const folder = await post(server.url, '/api/train/start', { ...base, dataset_name: 'missing-set' });
    expect(folder.status).toBe(404);
    expect(folder.body.code).toBe('E_DATASET_NOT_FOUND');
    expect(folder.body.message).toContain('data/not-there');
  });

  it("validates bodies and answers Fastify's own errors in the same shape, never 5xx", async () => {
    const cases: Array<[RequestInit & { path?: string }, number, string]> = [
      [{ body: JSON.stringify({ ...base, epochs: 'ten' }) }, 400, 'E_INVALID_ARGUMENT'],
      [{ body: JSON.stringify({ ...base, epochs: 0 }) }, 400, 'E_INVALID_ARGUMENT'],
      [{ body: JSON.stringify({ dataset_name: 'ljspeech' }) }, 400, 'E_INVALID_ARGUMENT'],
      [{ body: JSON.stringify({ ...base, epoch: 3 }) }, 400, 'E_INVALID_ARGUMENT'],
      [{ body: '{"model_name": ' }, 400, 'E_BAD_REQUEST'],
      [{ body: '' }, 400, 'E_INVALID_ARGUMENT'],
      [
        { body: '{"model_name": "conformer", "dataset_name": "ljspeech", "__proto__": {"x": 1}}' },
        400,
        'E_BAD_REQUEST',
      ],
      [{ body: 'model_name=conformer', headers: { 'content-type': 'text/plain' } }, 415, 'E_UNSUPPORTED_MEDIA_TYPE'],
      [
        { body: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        415,
        'E_UNSUPPORTED_MEDIA_TYPE',
      ],
      [{ body: JSON.stringify({ ...base, specific_checkpoint: 'x'.repeat(100_000) }) }, 413, 'E_PAYLOAD_TOO_LARGE'],
    ];
    for (const [init, status, code] of cases) {
      const response = await fetch(`${server.url}/api/train/start`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
        body: init.body,
      });
      const body = await response.json();
      expect({ status: response.status, code: body.code }).toEqual({ status, code });
      expect(Object.keys(body).sort()).toEqual(['code', 'error', 'message', 'statusCode']);
      expect(body.statusCode).toBe(status);
    }
    const traversal = await post(server.url, '/api/train/start', { ...base, specific_checkpoint: '../config.yaml' });
    expect(traversal.status).toBe(400);
    expect(await get(server.url, '/ws')).toMatchObject({ status: 426, body: { code: 'E_UPGRADE_REQUIRED' } });
    const unknownRoute = await get(server.url, '/api/nope');
    expect(unknownRoute).toMatchObject({ status: 404, body: { code: 'E_ROUTE_NOT_FOUND', statusCode: 404 } });
  });

  it('answers 409 E_LOCKED while another trainer holds the model/dataset folder lock', async () => {
    const lock = await new CheckpointStore({ dir: workspace.checkpointsDir }).acquireLock('conformer', 'ljspeech');
    try {
      const r = await post(server.url, '/api/train/start', { ...base, resume_from_checkpoint: false });
      expect(r).toMatchObject({ status: 409, body: { code: 'E_LOCKED', statusCode: 409 } });
    } finally {
      await lock.release();
    }
    expect((await get(server.url, '/api/train/status')).body.state).toBe('idle');
  });

  it('answers stop with 409 when nothing runs', async () => {
    const stop = await post(server.url, '/api/train/stop', {});
    expect(stop).toMatchObject({ status: 409, body: { code: 'E_NOT_RUNNING' } });
    const bare = await fetch(`${server.url}/api/train/stop`, { method: 'POST' });
    expect(bare.status).toBe(409);
    const emptyJson = await fetch(`${server.url}/api/train/stop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(emptyJson.status).toBe(409);
  });

  it('lists no checkpoints yet and rejects a bad filter', async () => {
    expect((await get(server.url, '/api/checkpoints')).body).toEqual({ checkpoints: [], broken_links: [] });
    expect((await get(server.url, '/api/checkpoints?model_name=conformer&dataset_name=ljspeech')).body).toEqual({
      checkpoints: [],
      broken_links: [],
    });
    const bad = await get(server.url, '/api/checkpoints?model_name=../etc');
    expect(bad).toMatchObject({ status: 400, body: { code: 'E_INVALID_ARGUMENT' } });
  });

  it('serves the OpenAPI document built from the route schemas', async () => {
    const doc = (await get(server.url, '/docs/json')).body;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/train/start',
        '/api/train/resume',
        '/api/train/stop',
        '/api/train/status',
        '/api/checkpoints',
      ]),
    );
    expect(
      doc.paths['/api/train/start'].post.requestBody.content['application/json'].schema.properties.epochs.type,
    ).toBe('integer');
    const page = await fetch(`${server.url}/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger');
  });

  it('greets a WebSocket client with the status', async () => {
    const stream = await EventStream.open(server.wsUrl);
    const first = await stream.waitFor(() => true, 5000);
    expect(first).toMatchObject({ type: 'status', payload: { state: 'idle' } });
    stream.close();
  });
});

describe('token auth', () => {
  let workspace: TestWorkspace;
  let server: TestServer;
  const token = 's3cret-token';
  beforeAll(async () => {
    workspace = makeWorkspace({ apiToken: token });
    server = await startServer(workspace);
  });
  afterAll(async () => {
    await server.close();
    workspace.cleanup();
  });

  it('answers 401 on REST without or with a wrong token, and keeps /api/health open', async () => {
    for (const path of ['/api/train/status', '/api/checkpoints', '/api/models', '/api/datasets', '/docs/json']) {
      const none = await get(server.url, path);
      expect(none).toMatchObject({
        status: 401,
        body: { statusCode: 401, code: 'E_UNAUTHORIZED', error: 'Unauthorized' },
      });
      expect((await get(server.url, path, { authorization: 'Bearer wrong' })).status).toBe(401);
      expect((await get(server.url, path, { authorization: `Bearer ${token}` })).status).toBe(200);
    }
    expect((await post(server.url, '/api/train/start', base)).status).toBe(401);
    expect((await post(server.url, '/api/train/stop', {})).status).toBe(401);
    expect((await get(server.url, '/api/health')).status).toBe(200);
  });

  it('answers 401 on /ws without the token and accepts the header or ?token=', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(server.wsUrl);
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => reject(new Error('opened without a token')));
      socket.on('error', () => undefined);
    });
    expect(status).toBe(401);
    const withHeader = await EventStream.open(server.wsUrl, { authorization: `Bearer ${token}` });
    expect((await withHeader.waitFor(() => true, 5000)).type).toBe('status');
    withHeader.close();
    const withQuery = await EventStream.open(`${server.wsUrl}?token=${token}`);
    expect((await withQuery.waitFor(() => true, 5000)).type).toBe('status');
    withQuery.close();
  });
});
