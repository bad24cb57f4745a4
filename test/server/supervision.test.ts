/**
 * The trainer runs in a child process: exact resume across a stop, and a trainer killed with SIGKILL
 * leaves the server answering, `failed` with the signal, and the next start resuming. The server keeps a
 * trainer started while idle (server.prestart_trainer, config.yaml's default): the runs below take it.
 */
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../chaos/helpers.js';
import { waitUntil } from '../helpers/wait.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import {
  closeServedWorkspace,
  EventStream,
  get,
  post,
  serveWorkspace,
  startServer,
  type TestServer,
  type Json,
} from './client.js';

/** The files process `pid` holds a kernel lock on through its own descriptors (their fdinfo's `lock:` lines). */
function lockedFiles(pid: number): string[] {
  const files: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (/^lock:.*OFDLCK.*WRITE/m.test(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))) {
        files.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
      }
    } catch {
      // closed meanwhile
    }
  }
  return files;
}

describe('supervised trainer', () => {
  let workspace: TestWorkspace;
  let server: TestServer;
  let events: EventStream;
  beforeAll(async () => {
    ({ workspace, server, events } = await serveWorkspace({
      train: 32,
      val: 4,
      batchSize: 2,
      epochs: 2,
      prestartTrainer: true,
    }));
  });
  afterAll(() => closeServedWorkspace({ workspace, server, events }));

  const progressOf = (runId: string, from: number) =>
    events.messages
      .slice(from)
      .filter((m) => m.type === 'progress' && m.payload.run_id === runId)
      .map((m) => m.payload);

  it('runs in the trainer it started while idle, which holds the folder lock through its own descriptor; resumes a stopped run at the next global step with the loss the uninterrupted run had', async () => {
    const spare = server.app.supervisor.spareTrainerPid;
    expect(spare).toBeGreaterThan(0);
    // The reference: the same tiny network under another model name, never stopped.
    let from = events.messages.length;
    const ref = await post(server.url, '/api/train/start', {
      model_name: 'conformer-ref',
      dataset_name: 'ljspeech',
      epochs: 1,
    });
    expect(ref.status).toBe(202);
    await events.waitFor((m) => m.type === 'progress' && m.payload.run_id === ref.body.run_id, 60_000, from);
    expect(server.app.supervisor.trainerPid).toBe(spare);
    // The lock reached it over the channel (SCM_RIGHTS): one of its descriptors is the server's locked open file.
    expect(lockedFiles(spare!)).toEqual([expect.stringMatching(/conformer-ref.*ljspeech.*\.lock$/)]);
    await events.waitForState(['completed'], from);
    // The next one is already starting, told to page in the heap the run ended with (its warm-up is
    // test/training/spare-trainer.test.ts's).
    const next = server.app.supervisor.spareTrainerPid;
    expect(next).toBeGreaterThan(0);
    expect(next).not.toBe(spare);
    const warm = readFileSync(`/proc/${next}/environ`, 'utf8')
      .split('\0')
      .find((v) => v.startsWith('ASR_TRAINER_WARM_HEAP_BYTES='));
    // At least what loading Node and LibTorch allocated (~50 MB).
    expect(Number(warm?.split('=')[1])).toBeGreaterThan(32 * 2 ** 20);
    const refLoss = new Map(progressOf(ref.body.run_id, from).map((p) => [p.global_step, p.loss]));
    expect(refLoss.size).toBe(16);

    from = events.messages.length;
    const run = await post(server.url, '/api/train/start', {
      model_name: 'conformer',
      dataset_name: 'ljspeech',
      epochs: 1,
    });
    expect(run.body.resumed_from).toBeNull();
    await events.waitFor(
      (m) => m.type === 'progress' && m.payload.run_id === run.body.run_id && m.payload.global_step >= 2,
      60_000,
      from,
    );
    expect((await post(server.url, '/api/train/stop', {})).status).toBe(202);
    const stopped = await events.waitForState(['stopped'], from);
    const saved = events.messages.slice(from).find((m) => m.type === 'checkpoint')!.payload;
    expect(saved.name).toBe(`conformer-ljspeech-epoch-1-step-${saved.step}.pt`);
    expect(saved.step).toBeLessThan(16);
    expect(stopped.payload.step).toBe(saved.step);
    const before = progressOf(run.body.run_id, from);
    expect(before[before.length - 1].global_step).toBe(saved.step);

    from = events.messages.length;
    const resumed = await post(server.url, '/api/train/resume', {
      model_name: 'conformer',
      dataset_name: 'ljspeech',
      epochs: 1,
    });
    expect(resumed.body).toMatchObject({ resumed_from: saved.name, start_epoch: 1, start_step: saved.step });
    await events.waitForState(['completed'], from);
    const after = progressOf(resumed.body.run_id, from);
    expect(after[0]).toMatchObject({ epoch: 1, step: saved.step + 1, global_step: saved.step + 1 });
    expect(after.map((p) => p.global_step)).toEqual(
      Array.from({ length: 16 - saved.step }, (_, i) => saved.step + 1 + i),
    );
    for (const p of [...before, ...after]) {
      const expected = refLoss.get(p.global_step)!;
      expect(Math.abs(p.loss - expected)).toBeLessThanOrEqual(1e-6 * Math.abs(expected));
    }
  });

  it('survives a SIGKILLed trainer: failed with the signal and the last log lines, and the next start resumes', async () => {
    // The trainer started while idle dies first: the start below forks one of its own instead.
    const spare = server.app.supervisor.spareTrainerPid;
    expect(spare).toBeGreaterThan(0);
    process.kill(spare!, 'SIGKILL');
    // A zombie counts as gone (isAlive): PID 1 may reap it late, so kill(pid, 0) cannot tell.
    await waitUntil('the killed spare trainer to exit', () => !isAlive(spare!));
    let from = events.messages.length;
    const run = await post(server.url, '/api/train/start', {
      model_name: 'conformer',
      dataset_name: 'ljspeech',
      epochs: 3,
    });
    expect(run.body).toMatchObject({ resumed_from: 'conformer-ljspeech-epoch-1.pt', start_epoch: 2 });
    // Past the epoch-2 checkpoint, mid-epoch 3.
    await events.waitFor(
      (m) => m.type === 'progress' && m.payload.run_id === run.body.run_id && m.payload.epoch === 3,
      60_000,
      from,
    );
    const pid = server.app.supervisor.trainerPid;
    expect(pid).toBeGreaterThan(0);
    expect(pid).not.toBe(spare);
    // The trainer starts with one malloc arena, so its threads keep freed memory (src/child-process/fork-entry.ts).
    expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain('MALLOC_ARENA_MAX=1');
    process.kill(pid!, 'SIGKILL');
    const failed = await events.waitForState(['failed'], from);
    expect(failed.payload.error).toMatchObject({ signal: 'SIGKILL' });
    expect(failed.payload.error.message).toContain('SIGKILL');
    expect(failed.payload.error.last_logs.length).toBeGreaterThan(0);
    expect((await get(server.url, '/api/health')).status).toBe(200);
    expect((await get(server.url, '/api/train/status')).body).toMatchObject({
      state: 'failed',
      error: { signal: 'SIGKILL' },
    });

    const valid = (await get(server.url, '/api/checkpoints?model_name=conformer')).body.checkpoints.filter(
      (c: { valid: boolean }) => c.valid,
    );
    from = events.messages.length;
    const again = await post(server.url, '/api/train/start', {
      model_name: 'conformer',
      dataset_name: 'ljspeech',
      epochs: 3,
    });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ resumed_from: valid[0].name, start_epoch: 3 });
    expect(valid[0].name).toBe('conformer-ljspeech-epoch-2.pt');
    await events.waitForState(['completed'], from);
  });

  it('plans once: the trainer opens the plan the 202 announced, so its warnings are logged once', async () => {
    const from = events.messages.length;
    // batch_size 4 against checkpoints trained with 2: the plan warns that the resume is not exact.
    const run = await post(server.url, '/api/train/start', {
      model_name: 'conformer',
      dataset_name: 'ljspeech',
      epochs: 4,
      batch_size: 4,
    });
    expect(run.status).toBe(202);
    expect(run.body.warnings).toEqual([expect.stringContaining('batch_size 4 instead of 2')]);
    // Stopped before a step trains: nothing new is saved, so the runs below resume what they did before.
    expect((await post(server.url, '/api/train/stop', {})).status).toBe(202);
    await events.waitForState(['stopped'], from);
    const logs = events.messages
      .slice(from)
      .filter((m) => m.type === 'log')
      .map((m) => m.payload.message as string);
    expect(logs.filter((m) => m.includes('batch_size 4 instead of 2'))).toHaveLength(1);
    expect(events.messages.slice(from).filter((m) => m.type === 'checkpoint')).toEqual([]);
  });

  it('stops a run gracefully when the server closes', async () => {
    const from = events.messages.length;
    const run = await post(server.url, '/api/train/start', {
      model_name: 'conformer',
      dataset_name: 'ljspeech',
      epochs: 5,
    });
    await events.waitFor((m) => m.type === 'progress' && m.payload.run_id === run.body.run_id, 60_000, from);
    await server.app.supervisor.shutdown();
    expect(server.app.supervisor.status().state).toBe('stopped');
    const saved = events.messages
      .slice(from)
      .filter((m) => m.type === 'checkpoint')
      .map((m) => m.payload.name);
    expect(saved[saved.length - 1]).toMatch(
      /^conformer-ljspeech-epoch-4-step-\d+\.pt$|^conformer-ljspeech-epoch-4\.pt$/,
    );
  });
});

describe('a trainer that does not stop in time', () => {
  let workspace: TestWorkspace;
  let server: TestServer;
  let events: EventStream;
  beforeAll(async () => {
    workspace = makeWorkspace({ train: 32, val: 4, batchSize: 2, epochs: 3 });
    // No time at all to save: the stop always ends in the kill.
    server = await startServer(workspace, { supervisor: { stopTimeoutMs: 1 } });
    events = await EventStream.open(server.wsUrl);
  });
  afterAll(async () => {
    events?.close();
    await server?.close();
    workspace?.cleanup();
  });

  it('is killed after the stop timeout; the folder stays valid and the next start resumes the last good checkpoint', async () => {
    let from = events.messages.length;
    const run = await post(server.url, '/api/train/start', { model_name: 'conformer', dataset_name: 'ljspeech' });
    await events.waitFor(
      (m) => m.type === 'checkpoint' && m.payload.name === 'conformer-ljspeech-epoch-1.pt',
      60_000,
      from,
    );
    await events.waitFor(
      (m) => m.type === 'progress' && m.payload.run_id === run.body.run_id && m.payload.epoch === 2,
      60_000,
      from,
    );
    expect((await post(server.url, '/api/train/stop', {})).status).toBe(202);
    const stopped = await events.waitForState(['stopped', 'failed'], from);
    expect(stopped.payload).toMatchObject({ state: 'stopped', error: { signal: 'SIGKILL' } });
    expect(stopped.payload.error.message).toMatch(/stop timeout/);

    const listed = (await get(server.url, '/api/checkpoints')).body.checkpoints as Array<Json>;
    const valid = listed.filter((c) => c.valid);
    expect(valid.map((c) => c.name)).toContain('conformer-ljspeech-epoch-1.pt');
    from = events.messages.length;
    const again = await post(server.url, '/api/train/start', { model_name: 'conformer', dataset_name: 'ljspeech' });
    expect(again.body.resumed_from).toBe(valid[0].name);
    await events.waitForState(['completed'], from);
    const finalList = (await get(server.url, '/api/checkpoints')).body.checkpoints as Array<Json>;
    expect(finalList.find((c) => c.is_latest)?.name).toBe('conformer-ljspeech-epoch-3.pt');
  });
});

describe('a trainer that fails while preparing', () => {
  it('reports failed with the error code and message, and the server keeps answering', async () => {
    const workspace = makeWorkspace({ train: 8, val: 2 });
    const server = await startServer(workspace);
    try {
      // Every WAV unreadable: far more skipped utterances than max_skipped_fraction allows.
      const wavs = join(workspace.root, 'data', 'tiny', 'wavs');
      for (const name of readdirSync(wavs)) writeFileSync(join(wavs, name), 'not a wav file');
      const events = await EventStream.open(server.wsUrl);
      const run = await post(server.url, '/api/train/start', { model_name: 'conformer', dataset_name: 'ljspeech' });
      expect(run.status).toBe(202);
      const failed = await events.waitForState(['failed'], 0);
      expect(failed.payload.error).toMatchObject({ code: 'E_DATASET_INVALID', exit_code: 1, signal: null });
      expect(failed.payload.error.message).toMatch(/skipped/);
      // Logged once, by the supervisor; the trainer reports it only as its error message.
      const errors = events.of('log').filter((l) => l.level === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0].message).toMatch(/skipped/);
      expect((await get(server.url, '/api/health')).status).toBe(200);
      events.close();
    } finally {
      await server.close();
      workspace.cleanup();
    }
  });
});
