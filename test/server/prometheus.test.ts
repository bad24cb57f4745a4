/**
 * GET /metrics on a real server: Prometheus' text format over real HTTP, values that follow the
 * supervisor's events (fed as a data-parallel run would report them, and from a real one-process run),
 * the API token rule, and one registry per server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainingEvent } from '../../src/contract/index.js';
import { idleStatus } from '../../src/training/status.js';
import { closeServedWorkspace, post, serveWorkspace, startServer, type ServedWorkspace } from './client.js';
import { makeWorkspace } from '../helpers/workspace.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The text format's sample lines (`name{label="v",…} value`); comment lines are left out. */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key] = value;
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(base: string, headers: Record<string, string> = {}): Promise<Sample[]> {
  const response = await fetch(`${base}/metrics`, { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseSamples(await response.text());
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

function series(samples: Sample[], name: string): Sample[] {
  return samples.filter((s) => s.name === name);
}

describe('GET /metrics', () => {
  let served: ServedWorkspace;
  beforeAll(async () => {
    served = await serveWorkspace({ names: 'tiny', train: 4, val: 1, batchSize: 2, epochs: 2 });
  });
  afterAll(() => closeServedWorkspace(served));

  const feed = (event: TrainingEvent) => served.server.app.supervisor.emit('event', event);

  it('reports the idle state, world size 1 and the default process metrics before any run', async () => {
    const samples = await scrape(served.server.url);
    expect(value(samples, 'asr_trainer_run_state', { state: 'idle' })).toBe(1);
    expect(value(samples, 'asr_trainer_run_state', { state: 'running' })).toBe(0);
    expect(series(samples, 'asr_trainer_run_state')).toHaveLength(7);
    expect(value(samples, 'asr_trainer_world_size')).toBe(1);
    expect(value(samples, 'asr_trainer_restarts')).toBe(0);
    expect(value(samples, 'asr_trainer_checkpoints_committed_total')).toBe(0);
    expect(value(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value(samples, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });

  it("follows a data-parallel run's status, progress, checkpoint and metrics events", async () => {
    const status = {
      ...idleStatus(),
      state: 'running' as const,
      run_id: 'run-dp',
      model_name: 'tiny',
      dataset_name: 'tiny',
      epoch: 1,
      epochs: 3,
      world_size: 3,
      restarts: 1,
    };
    feed({ type: 'status', payload: status });
    feed({
      type: 'progress',
      payload: {
        run_id: 'run-dp',
        epoch: 2,
        step: 5,
        global_step: 17,
        steps_per_epoch: 12,
        loss: 3.25,
        lr: 0.0015,
        utterances_per_s: 42.5,
        rank_step_s: [0.5, 0.75, 0.625],
      },
    });
    const beforeCheckpoint = Date.now() / 1000;
    feed({
      type: 'checkpoint',
      payload: { name: 'tiny-tiny-epoch-1.pt', epoch: 1, step: 12, size_mb: 2, save_s: 0.3 },
    });
    const afterCheckpoint = Date.now() / 1000;
    feed({ type: 'metrics', payload: { epoch: 1, val_loss: 2.5, val_cer: 0.25, val_wer: 0.5 } });
    const samples = await scrape(served.server.url);
    expect(value(samples, 'asr_trainer_run_state', { state: 'running' })).toBe(1);
    expect(value(samples, 'asr_trainer_run_state', { state: 'idle' })).toBe(0);
    expect(value(samples, 'asr_trainer_run_info', { run_id: 'run-dp', model: 'tiny', dataset: 'tiny' })).toBe(1);
    expect(value(samples, 'asr_trainer_world_size')).toBe(3);
    expect(value(samples, 'asr_trainer_restarts')).toBe(1);
    expect(value(samples, 'asr_trainer_epoch')).toBe(2);
    expect(value(samples, 'asr_trainer_global_step')).toBe(17);
    expect(value(samples, 'asr_trainer_loss')).toBe(3.25);
    expect(value(samples, 'asr_trainer_learning_rate')).toBe(0.0015);
    expect(value(samples, 'asr_trainer_utterances_per_second')).toBe(42.5);
    expect(series(samples, 'asr_trainer_step_seconds').map((s) => [s.labels.rank, s.value])).toEqual([
      ['0', 0.5],
      ['1', 0.75],
      ['2', 0.625],
    ]);
    expect(value(samples, 'asr_trainer_checkpoints_committed_total')).toBe(1);
    expect(value(samples, 'asr_trainer_last_checkpoint_size_bytes')).toBe(2 * 1024 * 1024);
    // The time the event arrived: between the clock readings on either side of it, however long that took.
    const committedAt = value(samples, 'asr_trainer_last_checkpoint_timestamp_seconds')!;
    expect(committedAt).toBeGreaterThanOrEqual(beforeCheckpoint);
    expect(committedAt).toBeLessThanOrEqual(afterCheckpoint);
    expect(value(samples, 'asr_trainer_checkpoint_save_seconds_count')).toBe(1);
    expect(value(samples, 'asr_trainer_checkpoint_save_seconds_bucket', { le: '0.25' })).toBe(0);
    expect(value(samples, 'asr_trainer_checkpoint_save_seconds_bucket', { le: '0.5' })).toBe(1);
    expect(value(samples, 'asr_trainer_val_cer_ratio')).toBe(0.25);
    expect(value(samples, 'asr_trainer_val_wer_ratio')).toBe(0.5);
    expect(value(samples, 'asr_trainer_val_loss')).toBe(2.5);
    // No moving average in this run (training.ema_decay 0): its gauges have no sample at all.
    expect(series(samples, 'asr_trainer_val_cer_ema_ratio')).toEqual([]);

    // An epoch with the moving average's figures sets them; one without removes them again.
    feed({
      type: 'metrics',
      payload: {
        epoch: 2,
        val_loss: 2,
        val_cer: 0.2,
        val_wer: 0.4,
        val_loss_ema: 1.5,
        val_cer_ema: 0.125,
        val_wer_ema: 0.25,
      },
    });
    const withEma = await scrape(served.server.url);
    expect(value(withEma, 'asr_trainer_val_cer_ema_ratio')).toBe(0.125);
    expect(value(withEma, 'asr_trainer_val_wer_ema_ratio')).toBe(0.25);
    expect(value(withEma, 'asr_trainer_val_loss_ema')).toBe(1.5);
    expect(value(withEma, 'asr_trainer_val_cer_ratio')).toBe(0.2);
    feed({ type: 'metrics', payload: { epoch: 3, val_loss: 2, val_cer: 0.2, val_wer: 0.4 } });
    expect(series(await scrape(served.server.url), 'asr_trainer_val_wer_ema_ratio')).toEqual([]);

    // The group restarts at world size 2: rank 2's gauge goes, it does not linger at its last value.
    feed({ type: 'status', payload: { ...status, world_size: 2, restarts: 2 } });
    feed({
      type: 'progress',
      payload: {
        run_id: 'run-dp',
        epoch: 2,
        step: 6,
        global_step: 18,
        steps_per_epoch: 12,
        loss: 3,
        lr: 0.0016,
        utterances_per_s: 40,
        rank_step_s: [0.5, 0.5],
      },
    });
    const after = await scrape(served.server.url);
    expect(value(after, 'asr_trainer_world_size')).toBe(2);
    expect(value(after, 'asr_trainer_restarts')).toBe(2);
    expect(series(after, 'asr_trainer_step_seconds').map((s) => s.labels.rank)).toEqual(['0', '1']);
    feed({ type: 'status', payload: { ...status, state: 'failed', world_size: 2, restarts: 2 } });
    expect(value(await scrape(served.server.url), 'asr_trainer_run_state', { state: 'failed' })).toBe(1);
  });

  it('follows a real one-process run: its global step, rank 0 step time and committed checkpoints', async () => {
    const { server, events } = served;
    const from = events.messages.length;
    const started = await post(server.url, '/api/train/start', {
      model_name: 'tiny',
      dataset_name: 'tiny',
      resume_from_checkpoint: false,
    });
    expect(started.status).toBe(202);
    const done = await events.waitForState(['completed'], from, 240_000);
    const samples = await scrape(server.url);
    expect(value(samples, 'asr_trainer_run_state', { state: 'completed' })).toBe(1);
    expect(value(samples, 'asr_trainer_run_info', { run_id: started.body.run_id })).toBe(1);
    // The fed run's labels went with it.
    expect(value(samples, 'asr_trainer_run_info', { run_id: 'run-dp' })).toBeUndefined();
    expect(value(samples, 'asr_trainer_world_size')).toBe(1);
    expect(value(samples, 'asr_trainer_global_step')).toBe(done.payload.global_step);
    expect(value(samples, 'asr_trainer_loss')).toBe(done.payload.loss);
    // 2 epochs of 2 steps: the interval between the steps of an epoch is rank 0's step time.
    const stepSeconds = series(samples, 'asr_trainer_step_seconds');
    expect(stepSeconds.map((s) => s.labels.rank)).toEqual(['0']);
    expect(stepSeconds[0].value).toBeGreaterThan(0);
    const checkpoints = events.messages.slice(from).filter((m) => m.type === 'checkpoint');
    expect(checkpoints.length).toBeGreaterThan(0);
    expect(value(samples, 'asr_trainer_checkpoints_committed_total')).toBe(1 + checkpoints.length);
    expect(value(samples, 'asr_trainer_checkpoint_save_seconds_count')).toBe(1 + checkpoints.length);
    expect(checkpoints.every((m) => typeof m.payload.save_s === 'number' && m.payload.save_s > 0)).toBe(true);
  }, 300_000);
});

describe('GET /metrics with an API token', () => {
  it('answers 401 without the bearer token and the metrics with it; each server counts its own', async () => {
    const workspace = makeWorkspace({ names: 'tiny', train: 2, val: 1 });
    const guarded = await startServer(workspace, { apiToken: 'scrape-token' });
    const open = await startServer(workspace);
    try {
      const refused = await fetch(`${guarded.url}/metrics`);
      expect(refused.status).toBe(401);
      expect(await refused.json()).toMatchObject({ statusCode: 401, code: 'E_UNAUTHORIZED' });
      guarded.app.supervisor.emit('event', {
        type: 'checkpoint',
        payload: { name: 'tiny-tiny-epoch-1.pt', epoch: 1, step: 1, size_mb: 1 },
      });
      const samples = await scrape(guarded.url, { authorization: 'Bearer scrape-token' });
      expect(value(samples, 'asr_trainer_checkpoints_committed_total')).toBe(1);
      // No save time in the event: nothing observed, and the counter still counts it.
      expect(value(samples, 'asr_trainer_checkpoint_save_seconds_count')).toBe(0);
      expect(value(await scrape(open.url), 'asr_trainer_checkpoints_committed_total')).toBe(0);
    } finally {
      await guarded.close();
      await open.close();
      workspace.cleanup();
    }
  });
});
