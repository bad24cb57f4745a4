import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AsrConfig } from '../../src/config/schema.js';
import { TrainingRun, type TrainingEvent } from '../../src/training/index.js';
import { EarlyStopping } from '../../src/training/early-stopping.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { closeServedWorkspace, get, post, serveWorkspace, type ServedWorkspace } from '../server/client.js';

const pair = { model_name: 'conformer', dataset_name: 'ljspeech' };

describe('EarlyStopping counts epochs since the strictly lowest val CER', () => {
  it('a better CER restarts the count; an equal one does not', () => {
    const rule = new EarlyStopping(2, null);
    rule.observe(1, 0.5);
    expect(rule.reasonToStop(1)).toBeNull();
    rule.observe(2, 0.4);
    rule.observe(3, 0.4);
    expect(rule.reasonToStop(3)).toBeNull();
    rule.observe(4, 0.45);
    expect(rule.reasonToStop(4)).toContain('no better val CER for 2 epochs');
    expect(rule.metrics()).toEqual({ best_val_cer: 0.4, best_val_cer_epoch: 2 });
  });

  it('patience 0 never stops', () => {
    const rule = new EarlyStopping(0, { cer: 0.1, epoch: 1 });
    rule.observe(9, 0.9);
    expect(rule.reasonToStop(9)).toBeNull();
  });
});

describe('a run with training.early_stopping_patience', () => {
  let workspace: TestWorkspace;
  beforeEach(() => {
    workspace = makeWorkspace({ train: 8, val: 4, batchSize: 4 });
  });
  afterEach(() => workspace.cleanup());

  // A learning rate this small leaves the weights, and so the val CER, as they are: no epoch is better.
  function frozen(patience: number): AsrConfig {
    const training = { ...workspace.config.training, learning_rate: 1e-12, early_stopping_patience: patience };
    return { ...workspace.config, training };
  }

  function sidecarMetrics(name: string): Record<string, number> {
    return (
      JSON.parse(readFileSync(join(workspace.checkpointsDir, `${name}.json`), 'utf8')) as {
        metrics: Record<string, number>;
      }
    ).metrics;
  }

  it('ends as completed with the reason in the outcome, the status and the log', async () => {
    const logs: string[] = [];
    const onEvent = (e: TrainingEvent): void => {
      if (e.type === 'log') logs.push(e.payload.message);
    };
    const run = await TrainingRun.prepare(frozen(1), { ...pair, epochs: 6 }, { onEvent });
    const outcome = await run.run();
    expect(outcome).toMatchObject({ state: 'completed', epoch: 2, last_checkpoint: 'conformer-ljspeech-epoch-2.pt' });
    expect(outcome.reason).toContain('no better val CER for 1 epochs');
    expect(run.status()).toMatchObject({ state: 'completed', reason: outcome.reason });
    expect(logs.some((l) => l.startsWith('Training completed at epoch 2 of 6') && l.includes('early stopping'))).toBe(
      true,
    );
    expect(sidecarMetrics('conformer-ljspeech-epoch-2.pt')).toMatchObject({ best_val_cer_epoch: 1 });
  });

  it('counts across a resume from the best the checkpoint carries', async () => {
    const first = await TrainingRun.prepare(frozen(0), { ...pair, epochs: 2 });
    expect((await first.run()).state).toBe('completed');
    expect(sidecarMetrics('conformer-ljspeech-epoch-2.pt')).toMatchObject({ best_val_cer_epoch: 1 });
    // Epoch 1 is the best; patience 2 ends the resumed run after epoch 3 (a run that forgot it: epoch 5).
    const resumed = await TrainingRun.prepare(frozen(2), { ...pair, epochs: 8 });
    expect(resumed.plan.best_val).toMatchObject({ epoch: 1 });
    const outcome = await resumed.run();
    expect(outcome).toMatchObject({ state: 'completed', epoch: 3 });
    expect(outcome.reason).toContain('the best was');
  });
});

describe('early stopping through the server', () => {
  let served: ServedWorkspace;
  afterEach(() => closeServedWorkspace(served));

  it('GET /api/train/status answers completed with the reason, and the log says it', async () => {
    // The rate leaves the val CER as it is: epoch 1 stays the best, so patience 1 ends the run after epoch 2.
    served = await serveWorkspace({
      train: 8,
      val: 4,
      batchSize: 4,
      training: { learning_rate: 1e-12, early_stopping_patience: 1 },
    });
    const { server, events } = served;
    const from = events.messages.length;
    const started = await post(server.url, '/api/train/start', { ...pair, epochs: 5 });
    expect(started.status).toBe(202);
    const ended = await events.waitForState(['completed', 'failed'], from);
    expect(ended.payload).toMatchObject({ state: 'completed', epoch: 2 });
    const status = await get(server.url, '/api/train/status');
    expect(status.body.reason).toContain('early stopping: no better val CER for 1 epochs');
    const logs = events.messages.filter((m) => m.type === 'log').map((m) => String(m.payload.message));
    expect(logs.some((l) => l.startsWith('Training completed: early stopping'))).toBe(true);
  });
});
