import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../src/checkpoints/index.js';
import { TrainingRun, type TrainingEvent } from '../../src/training/index.js';
import { Transcriber } from '../../src/transcribe/index.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';

type Metrics = Extract<TrainingEvent, { type: 'metrics' }>['payload'];

describe('training.ema_decay and training.val_beam in a run', () => {
  let workspace: TestWorkspace;
  const metrics: Metrics[] = [];

  beforeAll(async () => {
    workspace = makeWorkspace({
      names: 'tiny',
      train: 8,
      val: 2,
      batchSize: 4,
      training: { ema_decay: 0.9, val_beam: 4 },
    });
    const run = await TrainingRun.prepare(
      workspace.config,
      { model_name: 'tiny', dataset_name: 'tiny', epochs: 2 },
      { onEvent: (e) => e.type === 'metrics' && metrics.push(e.payload) },
    );
    expect(await run.run()).toMatchObject({ state: 'completed', epoch: 2 });
  }, 120_000);
  afterAll(() => workspace.cleanup());

  it('validates the moving average beside the weights: metrics events, metrics.jsonl, checkpoint metrics', async () => {
    expect(metrics).toHaveLength(2);
    for (const m of metrics) {
      expect(m).toMatchObject({
        val_cer: expect.any(Number),
        val_cer_ema: expect.any(Number),
        val_wer_ema: expect.any(Number),
        val_loss_ema: expect.any(Number),
      });
      expect(m.val_loss_ema).not.toBe(m.val_loss);
    }
    const epochs = readFileSync(join(workspace.runsDir, 'tiny-tiny', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.kind === 'epoch');
    expect(epochs.map((e) => e.val_cer_ema)).toEqual(metrics.map((m) => m.val_cer_ema));
    const store = new CheckpointStore({ dir: workspace.checkpointsDir });
    const epoch2 = (await store.list()).find((c) => c.name === 'tiny-tiny-epoch-2.pt');
    expect(epoch2?.metrics.val_cer_ema).toBe(metrics[1]!.val_cer_ema);
  });

  it('transcribe decodes with the checkpoint’s moving average', async () => {
    const transcriber = await Transcriber.open(workspace.config, { checkpoint: 'tiny-tiny-epoch-2.pt' });
    expect(transcriber.weights).toBe('ema');
    const [result] = await transcriber.transcribeFiles([join(workspace.datasetDir, 'wavs', 'TINY-0000.wav')]);
    expect(typeof result?.text).toBe('string');
  });

  it('a run without ema_decay reports no EMA figures and transcribes with the raw weights', async () => {
    const plain = makeWorkspace({ names: 'tiny', train: 4, val: 2, batchSize: 4 });
    try {
      const seen: Metrics[] = [];
      const run = await TrainingRun.prepare(
        plain.config,
        { model_name: 'tiny', dataset_name: 'tiny', epochs: 1 },
        { onEvent: (e) => e.type === 'metrics' && seen.push(e.payload) },
      );
      await run.run();
      expect(seen).toHaveLength(1);
      expect(seen[0]).not.toHaveProperty('val_cer_ema');
      expect((await Transcriber.open(plain.config, { checkpoint: 'tiny-tiny-epoch-1.pt' })).weights).toBe('raw');
    } finally {
      plain.cleanup();
    }
  });
});
