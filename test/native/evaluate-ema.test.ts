import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { FeatureStore, Trainer } from '../../src/native/index.js';
import { native, STEADY_TRAINING, syntheticUtterances, TINY_MODEL } from './helpers.js';

// The average itself, its checkpoint round trip and exact resume are checked in native/tests/test_ema.cpp;
// this is the binding: ema_decay, evaluate's `beam` and `weights`, transcribe's `weights`, emaWeights.
describe('Trainer with a moving average of its weights (ema_decay)', () => {
  let dir: string;
  let store: FeatureStore;
  let trainer: Trainer;
  let indices: number[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'asr-ema-'));
    store = await native.FeatureStore.fromAudio(syntheticUtterances(4));
    indices = Array.from({ length: store.size }, (_, i) => i);
    trainer = new native.Trainer(TINY_MODEL, { ...STEADY_TRAINING, ema_decay: 0.9 });
    await trainer.train(
      store,
      Array.from({ length: 80 }, () => indices),
    );
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('evaluates the average beside the weights and puts the weights back exactly', async () => {
    expect(trainer.emaWeights).toBe(true);
    expect(trainer.trainConfig.ema_decay).toBe(0.9);
    const raw = await trainer.evaluate(store, [indices]);
    const ema = await trainer.evaluate(store, [indices], { weights: 'ema' });
    expect(ema.loss).not.toBe(raw.loss);
    expect(Number.isFinite(ema.cer)).toBe(true);
    expect((await trainer.evaluate(store, [indices])).loss).toBe(raw.loss);
  });

  it('decodes the validation with a beam no worse than greedy', async () => {
    const greedy = await trainer.evaluate(store, [indices]);
    const beam = await trainer.evaluate(store, [indices], { beam: 8 });
    expect(greedy.cer, `greedy ${JSON.stringify(greedy.hypotheses)}`).toBeLessThan(0.9);
    expect(beam.cer).toBeLessThanOrEqual(greedy.cer);
    expect(beam.loss).toBe(greedy.loss);
  });

  it("a trainer without ema_decay loads a checkpoint's average and transcribes with it", async () => {
    const path = join(dir, 'ema.pt');
    await trainer.save(path, { epoch: 1 });
    const expected = await trainer.transcribe(store, indices, { weights: 'ema', beam: 4 });
    const inference = new native.Trainer(TINY_MODEL, { threads: 1 });
    await inference.ready;
    expect(inference.emaWeights).toBe(false);
    await inference.load(path);
    expect(inference.emaWeights).toBe(true);
    expect(await inference.transcribe(store, indices, { weights: 'ema', beam: 4 })).toEqual(expected);
  });

  it('refuses the average where there is none, a bad weights value and a bad decay', async () => {
    const plain = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    await expect(plain.evaluate(store, [indices], { weights: 'ema' })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: expect.stringMatching(/ema_decay/),
    });
    await expect(trainer.evaluate(store, [indices], { weights: 'average' as unknown as 'ema' })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: expect.stringMatching(/weights/),
    });
    expect(() => new native.Trainer(TINY_MODEL, { ...STEADY_TRAINING, ema_decay: 1 })).toThrow(/ema_decay/);
  });
});
