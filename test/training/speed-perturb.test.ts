import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../../src/config/index.js';
import { TrainingRun, type TrainingEvent } from '../../src/training/index.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';

type Progress = Extract<TrainingEvent, { type: 'progress' }>['payload'];

function perturbed(config: LoadedConfig): LoadedConfig {
  return { ...config, training: { ...config.training, speed_perturb: [0.9, 1.0, 1.1] } };
}

describe('training.speed_perturb', () => {
  let workspace: TestWorkspace;
  beforeAll(() => {
    workspace = makeWorkspace({ names: 'tiny', train: 8, val: 2, batchSize: 4 });
  });
  afterAll(() => workspace.cleanup());

  it('reaches the training store: an epoch trains from per-factor caches, validation stays unperturbed', async () => {
    const config = perturbed(workspace.config);
    const progress: Progress[] = [];
    const run = await TrainingRun.prepare(
      config,
      { model_name: 'tiny', dataset_name: 'tiny', epochs: 1 },
      { onEvent: (e) => e.type === 'progress' && progress.push(e.payload) },
    );
    const outcome = await run.run();
    expect(outcome).toMatchObject({ state: 'completed', epoch: 1 });
    // Each utterance once per epoch, whatever its speed: the step count is the unperturbed one.
    expect(progress.map((p) => p.global_step)).toEqual([1, 2]);
    expect(progress.every((p) => Number.isFinite(p.loss))).toBe(true);
    expect(readdirSync(join(workspace.root, '.cache', 'features')).sort()).toEqual([
      'tiny.train.fbank',
      'tiny.train.speed0.9.fbank',
      'tiny.train.speed1.1.fbank',
      'tiny.val.fbank',
    ]);
  });

  it('a resume mid-epoch replays the speeds the uninterrupted run drew: the same losses', async () => {
    const fresh = makeWorkspace({ train: 16, val: 4, batchSize: 4 });
    try {
      const config = perturbed(fresh.config);
      const reference: Progress[] = [];
      const ref = await TrainingRun.prepare(
        config,
        { model_name: 'conformer-ref', dataset_name: 'ljspeech', epochs: 2 },
        { onEvent: (e) => e.type === 'progress' && reference.push(e.payload) },
      );
      await ref.run();
      const refLoss = new Map(reference.map((p) => [p.global_step, p.loss]));
      expect(refLoss.size).toBe(8);

      const pair = { model_name: 'conformer', dataset_name: 'ljspeech', epochs: 2 };
      const losses: Progress[] = [];
      const interrupted: TrainingRun = await TrainingRun.prepare(config, pair, {
        onEvent: (e) => {
          if (e.type !== 'progress') return;
          losses.push(e.payload);
          if (e.payload.global_step === 6) interrupted.stop();
        },
      });
      expect(await interrupted.run()).toMatchObject({ state: 'stopped', epoch: 2 });
      const resumed = await TrainingRun.prepare(config, pair, {
        onEvent: (e) => e.type === 'progress' && losses.push(e.payload),
      });
      expect(resumed.plan.start_epoch).toBe(2);
      await resumed.run();
      expect(losses.map((p) => p.global_step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].slice(0, losses.length));
      expect(losses.at(-1)?.global_step).toBe(8);
      for (const p of losses) {
        const expected = refLoss.get(p.global_step)!;
        expect(Math.abs(p.loss - expected)).toBeLessThanOrEqual(1e-6 * Math.abs(expected));
      }
    } finally {
      fresh.cleanup();
    }
  });
});
