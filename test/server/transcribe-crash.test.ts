/**
 * POST /api/transcribe decodes in a child process: killing that process during a request answers that
 * request 503 E_TRANSCRIBER_CRASHED while the API stays up, and the next request starts a new process.
 * A real server on a real port, a checkpoint trained here, real signals.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrainingRun } from '../../src/training/index.js';
import { get, startServer, type TestServer } from './client.js';
import { waitUntil } from '../helpers/wait.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';

let workspace: TestWorkspace;
let server: TestServer;
let closed = false;

beforeAll(async () => {
  workspace = makeWorkspace({ train: 8, val: 2, batchSize: 4, epochs: 1 });
  const run = await TrainingRun.prepare(workspace.config, {
    model_name: 'conformer',
    dataset_name: 'ljspeech',
    epochs: 1,
  });
  await run.run();
  server = await startServer(workspace);
});
afterAll(async () => {
  if (!closed) await server?.close();
  workspace?.cleanup();
});

function transcribe(): Promise<Response> {
  const wav = readFileSync(join(workspace.root, 'data', 'tiny', 'wavs', 'TINY-0001.wav'));
  return fetch(`${server.url}/api/transcribe`, { method: 'POST', headers: { 'content-type': 'audio/wav' }, body: wav });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the transcription process', () => {
  it('answers 503 E_TRANSCRIBER_CRASHED when SIGKILLed during a request; health stays up; the next request works', async () => {
    const warm = await transcribe();
    expect(warm.status, await warm.clone().text()).toBe(200);
    const expected = (await warm.json()) as { text: string; checkpoint: string };
    const transcriber = server.app.transcriber;
    const pid = transcriber.pid;
    expect(pid).not.toBeNull();
    expect(pid).not.toBe(process.pid);
    // Like the trainer, it starts with one malloc arena (src/child-process/fork-entry.ts).
    expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain('MALLOC_ARENA_MAX=1');

    // Frozen first, so the request is surely with the process (not answered yet) when the kill lands.
    process.kill(pid!, 'SIGSTOP');
    const pending = transcribe();
    await waitUntil('the request to reach the transcription process', () => transcriber.busy);
    process.kill(pid!, 'SIGKILL');
    const crashed = await pending;
    expect(crashed.status).toBe(503);
    const body = (await crashed.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ statusCode: 503, error: 'Service Unavailable', code: 'E_TRANSCRIBER_CRASHED' });
    expect(body.message).toMatch(/killed by SIGKILL/);
    expect(body.message).toMatch(/next request restarts/);
    await waitUntil('the killed process to be gone', () => !alive(pid!));

    const health = await get(server.url, '/api/health');
    expect(health.status).toBe(200);

    const again = await transcribe();
    expect(again.status, await again.clone().text()).toBe(200);
    expect(await again.json()).toEqual(expected);
    expect(transcriber.pid).not.toBeNull();
    expect(transcriber.pid).not.toBe(pid);
  });

  it('keeps the process and its loaded model between requests', async () => {
    const pid = server.app.transcriber.pid;
    const res = await transcribe();
    expect(res.status).toBe(200);
    expect(server.app.transcriber.pid).toBe(pid);
  });

  it('ends the process when the server closes', async () => {
    const pid = server.app.transcriber.pid!;
    expect(alive(pid)).toBe(true);
    await server.close();
    closed = true;
    expect(alive(pid)).toBe(false);
  });
});
