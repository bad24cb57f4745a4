import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrainingRun, type TrainingEvent } from '../../src/training/index.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';

type Progress = Extract<TrainingEvent, { type: 'progress' }>['payload'];

describe('training.speed_perturb', () => {
  let workspace: TestWorkspace;
  beforeAll(() => {
    workspace = makeWorkspace({ names: 'tiny', train: 8, val: 2, batchSize: 4 });
  });
  afterAll(() => workspace.cleanup());

  it('reaches the training store: an epoch trains from per-factor caches, validation stays unperturbed', async () => {
    const config = { ...workspace.config, training: { ...workspace.config.training, speed_perturb: [0.9, 1.0, 1.1] } };
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
});
