/**
 * Every request of the guide (seed/000_…txt), as written, against a real server on port 0 with the
 * dataset named `ljspeech` (a tiny generated corpus) and a tiny Conformer.
 */
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckpointEntry } from '../../src/contract/index.js';
import { waitUntil } from '../helpers/wait.js';
import type { TestWorkspace } from '../helpers/workspace.js';
import { closeServedWorkspace, EventStream, get, post, serveWorkspace, type TestServer, type Json } from './client.js';

describe('the guide, example by example', () => {
  let workspace: TestWorkspace;
  let server: TestServer;
  let events: EventStream;
  beforeAll(async () => {
    // Retention 6 keeps epochs 5..10 of a 10-epoch run, so the guide's epoch-5 checkpoint exists.
    ({ workspace, server, events } = await serveWorkspace({
      train: 24,
      val: 4,
      batchSize: 2,
      epochs: 10,
      retention: 6,
    }));
  });
  afterAll(() => closeServedWorkspace({ workspace, server, events }));

  /** Stops the running trainer once it has made progress, and waits until it has ended. */
  async function stopAfterProgress(runId: string): Promise<string[]> {
    const from = events.messages.length;
    await events.waitFor((m) => m.type === 'progress' && m.payload.run_id === runId, 60_000, 0);
    const stop = await post(server.url, '/api/train/stop', {});
    expect(stop).toEqual({ status: 202, body: { status: 'stopping' } });
    await events.waitForState(['stopped'], from);
    return events.messages
      .slice(from)
      .filter((m) => m.type === 'checkpoint')
      .map((m) => m.payload.name as string);
  }

  it('example 1 (curl): start with resume_from_checkpoint true trains from scratch; a second start gets 409', async () => {
    const from = events.messages.length;
    const body = { model_name: 'conformer', dataset_name: 'ljspeech', epochs: 10, resume_from_checkpoint: true };
    const [a, b] = await Promise.all([
      post(server.url, '/api/train/start', body),
      post(server.url, '/api/train/start', body),
    ]);
    const started = [a, b].find((r) => r.status === 202)!;
    const refused = [a, b].find((r) => r.status === 409)!;
    expect(started.body).toMatchObject({ status: 'started', resumed_from: null, start_epoch: 1, epochs: 10 });
    expect(typeof started.body.run_id).toBe('string');
    expect(refused.body).toEqual({
      statusCode: 409,
      error: 'Conflict',
      message: 'Training is already in progress',
      code: 'E_TRAINING_IN_PROGRESS',
    });
    await events.waitForState(['completed'], from, 240_000);
    const run = events.messages.slice(from);
    const progress = run.filter((m) => m.type === 'progress').map((m) => m.payload);
    expect(progress.map((p) => p.global_step)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    const metrics = run.filter((m) => m.type === 'metrics').map((m) => m.payload);
    expect(metrics.map((m) => m.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const m of metrics) {
      // 120 steps cannot make a tiny model perfect: a rate of 0 would mean nothing was compared.
      expect([m.val_cer, m.val_wer].every((r) => Number.isFinite(r) && r > 0)).toBe(true);
      expect(Number.isFinite(m.val_loss)).toBe(true);
    }
    // Each checkpoint the list still holds carries the rates its epoch reported.
    const listed = (await get(server.url, '/api/checkpoints')).body.checkpoints as CheckpointEntry[];
    expect(listed.length).toBeGreaterThan(0);
    for (const c of listed) {
      const reported = metrics.find((m) => m.epoch === c.epoch);
      expect(reported, c.name).toBeDefined();
      expect(c.metrics, c.name).toMatchObject({ val_cer: reported?.val_cer, val_wer: reported?.val_wer });
    }
    const saved = run.filter((m) => m.type === 'checkpoint').map((m) => m.payload.name);
    expect(saved).toEqual(Array.from({ length: 10 }, (_, i) => `conformer-ljspeech-epoch-${i + 1}.pt`));
    expect(run.some((m) => m.type === 'log' && m.payload.level === 'info')).toBe(true);
    const status = (await get(server.url, '/api/train/status')).body;
    expect(status).toMatchObject({ state: 'completed', epoch: 10, epochs: 10, step: 12, model_name: 'conformer' });
  });

  it('example 3 and the list: newest first with size_mb, filtered by model and dataset; latest and retention', async () => {
    const all = (await get(server.url, '/api/checkpoints')).body.checkpoints as Array<Json>;
    const epochs = all.map((c) => c.epoch);
    for (const e of [5, 6, 7, 8, 9, 10]) expect(epochs).toContain(e);
    expect(epochs[0]).toBe(10);
    expect([...epochs].sort((x, y) => y - x)).toEqual(epochs);
    for (const c of all) {
      expect(c.size_mb).toBeGreaterThan(0);
      // The guide prints f"Epoch {epoch}: {name} ({size_mb}MB)".
      expect(`Epoch ${c.epoch}: ${c.name} (${c.size_mb}MB)`).toMatch(
        /^Epoch \d+: conformer-ljspeech-epoch-\d+\.pt \([\d.]+MB\)$/,
      );
    }
    expect(all.filter((c) => c.is_latest).map((c) => c.name)).toEqual(['conformer-ljspeech-epoch-10.pt']);
    expect(all.filter((c) => c.is_best)).toHaveLength(1);
    // Retention 6: epochs 1..4 are gone unless one of them is the best by val CER.
    for (const e of [1, 2, 3, 4]) {
      const kept = all.find((c) => c.epoch === e);
      expect(kept === undefined || kept.is_best).toBe(true);
      if (!kept) expect(existsSync(join(workspace.checkpointsDir, `conformer-ljspeech-epoch-${e}.pt`))).toBe(false);
    }
    const filtered = (await get(server.url, '/api/checkpoints?model_name=conformer&dataset_name=ljspeech')).body
      .checkpoints;
    expect(filtered).toEqual(all);
    expect((await get(server.url, '/api/checkpoints?model_name=conformer-ref')).body.checkpoints).toEqual([]);
    expect(readlinkSync(join(workspace.checkpointsDir, 'conformer-ljspeech-latest.pt'))).toBe(
      'conformer-ljspeech-epoch-10.pt',
    );
  });

  it('example 2 (curl): a specific checkpoint resumes at the next epoch; stop mid-epoch saves a step checkpoint', async () => {
    const from = events.messages.length;
    const r = await post(server.url, '/api/train/start', {
      model_name: 'conformer',
      dataset_name: 'ljspeech',
      epochs: 10,
      resume_from_checkpoint: true,
      specific_checkpoint: 'conformer-ljspeech-epoch-5.pt',
    });
    expect(r).toMatchObject({
      status: 202,
      body: { status: 'started', resumed_from: 'conformer-ljspeech-epoch-5.pt', start_epoch: 6, epochs: 10 },
    });
    const first = await events.waitFor(
      (m) => m.type === 'progress' && m.payload.run_id === r.body.run_id,
      60_000,
      from,
    );
    expect(first.payload).toMatchObject({ epoch: 6, step: 1, global_step: 61 });
    const saved = await stopAfterProgress(r.body.run_id);
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatch(/^conformer-ljspeech-epoch-6-step-\d+\.pt$/);
    const listed = (await get(server.url, '/api/checkpoints')).body.checkpoints as CheckpointEntry[];
    const stepCheckpoint = listed.find((c) => c.name === saved[0])!;
    expect(stepCheckpoint).toMatchObject({ kind: 'step', epoch: 6, valid: true });
    // latest is the most recent commit of the most recent run (issue 14): this run's step checkpoint,
    // not the furthest-trained epoch 10 of the first run, which stays untouched beside it.
    expect(readlinkSync(join(workspace.checkpointsDir, 'conformer-ljspeech-latest.pt'))).toBe(saved[0]);
    expect(stepCheckpoint).toMatchObject({
      run_id: r.body.run_id,
      resumed_from: 'conformer-ljspeech-epoch-5.pt',
      is_latest: true,
    });
    expect(listed.find((c) => c.name === 'conformer-ljspeech-epoch-10.pt')).toMatchObject({
      valid: true,
      is_latest: false,
    });
    expect((await get(server.url, '/api/train/status')).body).toMatchObject({
      state: 'stopped',
      resumed_from: 'conformer-ljspeech-epoch-5.pt',
    });
  });

  it('example 3 (curl): /api/train/resume with a specific checkpoint', async () => {
    const r = await post(server.url, '/api/train/resume', {
      model_name: 'conformer',
      dataset_name: 'ljspeech',
      specific_checkpoint: 'conformer-ljspeech-epoch-5.pt',
      epochs: 10,
    });
    expect(r).toMatchObject({
      status: 202,
      body: { resumed_from: 'conformer-ljspeech-epoch-5.pt', start_epoch: 6, epochs: 10 },
    });
    await stopAfterProgress(r.body.run_id);
  });

  it('python example 1: start without resume flags auto-resumes the latest checkpoint', async () => {
    const listed = (await get(server.url, '/api/checkpoints')).body.checkpoints;
    const latest = listed.find((c: { is_latest: boolean }) => c.is_latest);
    const from = events.messages.length;
    const r = await post(server.url, '/api/train/start', {
      model_name: 'conformer',
      dataset_name: 'ljspeech',
      epochs: 20,
    });
    // The newest: example 3's stop inside epoch 6 (issue 14's `latest`), listed first.
    expect(latest).toMatchObject({ name: listed[0].name, kind: 'step', epoch: 6 });
    expect(r).toMatchObject({
      status: 202,
      body: { status: 'started', resumed_from: latest.name, start_epoch: 6, epochs: 20 },
    });
    const first = await events.waitFor(
      (m) => m.type === 'progress' && m.payload.run_id === r.body.run_id,
      60_000,
      from,
    );
    expect(first.payload).toMatchObject({ epoch: 6, step: latest.step + 1, global_step: latest.global_step + 1 });
    await stopAfterProgress(r.body.run_id);
  });

  it('python example 2: resume epoch 5 with epochs 15', async () => {
    const r = await post(server.url, '/api/train/resume', {
      model_name: 'conformer',
      dataset_name: 'ljspeech',
      specific_checkpoint: 'conformer-ljspeech-epoch-5.pt',
      epochs: 15,
    });
    expect(r).toMatchObject({
      status: 202,
      body: { resumed_from: 'conformer-ljspeech-epoch-5.pt', start_epoch: 6, epochs: 15 },
    });
    await stopAfterProgress(r.body.run_id);
  });

  it('refuses a checkpoint already at the requested epochs with 409', async () => {
    const r = await post(server.url, '/api/train/resume', {
      model_name: 'conformer',
      dataset_name: 'ljspeech',
      specific_checkpoint: 'conformer-ljspeech-epoch-10.pt',
      epochs: 10,
    });
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('E_CHECKPOINT_PAST_EPOCHS');
    expect(r.body.message).toContain('epochs: 11');
  });

  it('answers 422 for a named checkpoint whose bytes no longer match its sidecar', async () => {
    const file = join(workspace.checkpointsDir, 'conformer-ljspeech-epoch-7.pt');
    const bytes = readFileSync(file);
    bytes[bytes.length - 10] ^= 0xff;
    writeFileSync(file, bytes);
    const r = await post(server.url, '/api/train/resume', {
      model_name: 'conformer',
      dataset_name: 'ljspeech',
      specific_checkpoint: 'conformer-ljspeech-epoch-7.pt',
      epochs: 10,
    });
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ code: 'E_CHECKPOINT_CORRUPT', error: 'Unprocessable Entity' });
    expect(r.body.message).toContain('conformer-ljspeech-epoch-7.pt');
  });

  it('serves the metrics history with a val CER per epoch, and greets a new /ws client with the recent log', async () => {
    const history = (await get(server.url, '/api/metrics/history?model_name=conformer&dataset_name=ljspeech')).body;
    const epochLines = history.records.filter((r: { kind: string }) => r.kind === 'epoch');
    expect(epochLines.map((r: { epoch: number }) => r.epoch)).toEqual([1, 2, 3, 4, 5]);
    expect(epochLines.every((r: { val_cer: unknown }) => typeof r.val_cer === 'number')).toBe(true);
    const late = await EventStream.open(server.wsUrl);
    // The greeting's log lines, however long they take to arrive (a fixed 300 ms was a bet on the machine).
    await waitUntil('more than 10 log lines in the greeting', () => late.of('log').length > 10);
    expect(late.messages[0].type).toBe('status');
    expect(late.of('log').length).toBeLessThanOrEqual(200);
    late.close();
  });
});
