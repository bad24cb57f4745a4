import { beforeAll, describe, expect, it } from 'vitest';

import type { FeatureStore } from '../../src/native.js';
import { native, STEADY_TRAINING, syntheticUtterances, TINY_MODEL } from './helpers.js';

describe('the event loop while a trainer is mid-train() (real addon)', () => {
  let store: FeatureStore;

  beforeAll(async () => {
    store = await native.FeatureStore.fromAudio(syntheticUtterances(8));
  });

  it('new Trainer, versions and setThreads answer without waiting for the compute thread', async () => {
    const busy = new native.Trainer({ ...TINY_MODEL, num_layers: 4 }, STEADY_TRAINING);
    let stepsSeen = 0;
    let firstStep!: () => void;
    const started = new Promise<void>((resolve) => (firstStep = resolve));
    const training = busy.train(store, Array(40).fill([0, 1, 2, 3, 4, 5, 6, 7]), {
      onStep: () => {
        stepsSeen++;
        firstStep();
      },
    });
    await started; // the compute thread is inside that train() call now

    const fresh = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    expect(fresh.parameterCount).toBeGreaterThan(0);
    expect(fresh.globalStep).toBe(0);
    expect(native.setThreads(1)).toBe(1);
    expect(native.versions.threads).toBe(1);
    const fbank = native.fbank(new Float32Array(16000), 16000);

    // Had any of those waited for the compute thread, the rest of the steps would have been queued by then
    // and would arrive in one burst; a free loop sees them arrive between its ticks.
    const stepsAtTicks: number[] = [];
    const timer = setInterval(() => stepsAtTicks.push(stepsSeen), 5);
    const outcome = await training.finally(() => clearInterval(timer));
    expect(outcome.steps).toHaveLength(40);
    expect(new Set(stepsAtTicks).size).toBeGreaterThanOrEqual(5);
    expect((await fbank).frames).toBe(98);

    // The new trainer was built after that call, and works.
    await fresh.ready;
    expect((await fresh.train(store, [[0, 1]])).steps).toHaveLength(1);
    expect(fresh.globalStep).toBe(1);
  });
});
