import { beforeAll, describe, expect, it } from 'vitest';

import type { FeatureStore } from '../../src/native/index.js';
import { native, STEADY_TRAINING, syntheticUtterances, TINY_MODEL } from './helpers.js';

describe('the event loop while a trainer is mid-train() (real addon)', () => {
  let store: FeatureStore;

  beforeAll(async () => {
    store = await native.FeatureStore.fromAudio(syntheticUtterances(8));
  });

  it('new Trainer, versions and setThreads answer without waiting for the compute thread', async () => {
    const busy = new native.Trainer({ ...TINY_MODEL, num_layers: 4 }, STEADY_TRAINING);
    const controller = new AbortController();
    const batches = Array(400).fill([0, 1, 2, 3, 4, 5, 6, 7]);
    let firstStep!: () => void;
    const started = new Promise<void>((resolve) => (firstStep = resolve));
    const training = busy.train(store, batches, { signal: controller.signal, onStep: () => firstStep() });
    await started; // the compute thread is inside that train() call now

    const fresh = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    expect(fresh.parameterCount).toBeGreaterThan(0);
    expect(fresh.globalStep).toBe(0);
    expect(native.setThreads(1)).toBe(1);
    expect(native.versions.threads).toBe(1);
    expect((await native.fbank(new Float32Array(16000), 16000)).frames).toBe(98);

    // Had any of those waited for the compute thread, they would have answered only once train() had trained
    // every batch, and this abort would come too late to cancel anything.
    controller.abort();
    const outcome = await training;
    expect(outcome.cancelled).toBe(true);
    expect(outcome.steps.length).toBeLessThan(batches.length);

    // The new trainer was built after that call, and works.
    await fresh.ready;
    expect((await fresh.train(store, [[0, 1]])).steps).toHaveLength(1);
    expect(fresh.globalStep).toBe(1);
  });
});
