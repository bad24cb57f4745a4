/**
 * Trainer.save with onSnapshot: the trainer takes the next call once its state is copied, the file is
 * written meanwhile, and what lands on disk is the state at the save — not the steps trained after it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { FeatureStore, TrainOutcome } from '../../src/native/index.js';
import { native, STEADY_TRAINING, syntheticUtterances, TINY_MODEL } from './helpers.js';

describe('Trainer.save in the background', () => {
  let store: FeatureStore;
  let dir: string;

  beforeAll(async () => {
    store = await native.FeatureStore.fromAudio(syntheticUtterances(4));
    dir = mkdtempSync(join(tmpdir(), 'asr-save-bg-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('frees the trainer at the snapshot and writes the state as it was then', async () => {
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    await trainer.train(store, [[0, 1]]);
    const path = join(dir, 'bg.pt');
    let trainedMeanwhile: Promise<TrainOutcome> | null = null;
    await trainer.save(
      path,
      { epoch: 1, step: 1 },
      {
        onSnapshot: () => {
          trainedMeanwhile = trainer.train(store, [
            [2, 3],
            [0, 1],
          ]);
        },
      },
    );
    expect(trainedMeanwhile).not.toBeNull();
    const meanwhile = await (trainedMeanwhile as unknown as Promise<TrainOutcome>);
    expect(trainer.globalStep).toBe(3);

    // The file holds step 1: a trainer loaded from it takes step 2 exactly as the first one did.
    const resumed = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    expect((await resumed.load(path)).global_step).toBe(1);
    const replay = await resumed.train(store, [[2, 3]]);
    expect(replay.steps[0].loss).toBe(meanwhile.steps[0].loss);
  });

  it('without onSnapshot the trainer stays busy until the file is durable', async () => {
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    const saving = trainer.save(join(dir, 'fg.pt'));
    await expect(trainer.train(store, [[0]])).rejects.toThrow(/busy with save\(\)/);
    await saving;
    expect((await trainer.train(store, [[0]])).steps).toHaveLength(1);
  });

  it('a write that fails rejects the save after the trainer was freed', async () => {
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    let freed = false;
    await expect(
      trainer.save(join(dir, 'no-such-folder', 'x.pt'), {}, { onSnapshot: () => (freed = true) }),
    ).rejects.toMatchObject({ name: 'AsrTrainerError' });
    expect(freed).toBe(true);
    expect((await trainer.train(store, [[0]])).steps).toHaveLength(1);
  });
});
