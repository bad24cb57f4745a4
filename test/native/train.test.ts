import { beforeAll, describe, expect, it } from 'vitest';

import { AsrTrainerError } from '../../src/errors.js';
import type { FeatureStore, StepProgress } from '../../src/native/index.js';
import { native, STEADY_TRAINING, syntheticUtterances, TINY_MODEL } from './helpers.js';

describe('Trainer.train (real addon)', () => {
  let store: FeatureStore;

  beforeAll(async () => {
    store = await native.FeatureStore.fromAudio(syntheticUtterances(8));
  });

  it('builds a store from generated audio', () => {
    expect(store.size).toBe(8);
    expect(store.skipped).toEqual([]);
    // 1 s at 10 ms hops: 98 frames; longer utterances have more.
    expect(store.frames(0)).toBe(98);
    expect(store.ids()).toEqual(['utt0', 'utt1', 'utt2', 'utt3', 'utt4', 'utt5', 'utt6', 'utt7']);
    expect(store.text(1)).toBe('one two three');
  });

  it('a few steps on one fixed batch lower its loss', async () => {
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    const batch = [0, 1, 2, 3];
    const { steps, cancelled } = await trainer.train(store, Array(8).fill(batch));
    expect(cancelled).toBe(false);
    expect(steps).toHaveLength(8);
    expect(steps.every((s) => s.finite && Number.isFinite(s.loss) && s.utterances === 4)).toBe(true);
    expect(steps.map((s) => s.global_step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(steps[7].loss).toBeLessThan(steps[0].loss * 0.8);
    expect(trainer.globalStep).toBe(8);
  });

  it('reports every step through onStep before train() resolves', async () => {
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    const seen: StepProgress[] = [];
    const outcome = await trainer.train(
      store,
      [
        [0, 1],
        [2, 3],
        [4, 5],
      ],
      {
        onStep: (step) => seen.push(step),
      },
    );
    expect(seen.map((s) => s.batch_index)).toEqual([0, 1, 2]);
    expect(seen.map((s) => s.loss)).toEqual(outcome.steps.map((s) => s.loss));
  });

  it('keeps the event loop free while steps run: a timer ticks meanwhile and its abort ends the run early', async () => {
    const trainer = new native.Trainer({ ...TINY_MODEL, num_layers: 4 }, STEADY_TRAINING);
    const controller = new AbortController();
    const batches = Array(400).fill([0, 1, 2, 3, 4, 5, 6, 7]);
    // A blocked loop would run this timer only once train() had trained every batch; a free one ticks
    // between the steps, and the abort on its third tick after the first step leaves most batches untrained.
    let stepsSeen = 0;
    let ticksSinceFirstStep = 0;
    const timer = setInterval(() => {
      if (stepsSeen > 0 && ++ticksSinceFirstStep === 3) controller.abort();
    }, 1);
    const outcome = await trainer
      .train(store, batches, { signal: controller.signal, onStep: () => stepsSeen++ })
      .finally(() => clearInterval(timer));
    expect(outcome.cancelled).toBe(true);
    expect(outcome.steps.length).toBeGreaterThanOrEqual(1);
    expect(outcome.steps.length).toBeLessThan(batches.length);
  });

  it('an abort stops at the next step boundary and reports cancelled', async () => {
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    const controller = new AbortController();
    const seen: number[] = [];
    const outcome = await trainer.train(store, Array(40).fill([0, 1]), {
      signal: controller.signal,
      onStep: (step) => {
        seen.push(step.batch_index);
        if (step.batch_index === 1) controller.abort();
      },
    });
    expect(outcome.cancelled).toBe(true);
    // Steps already under way when the abort lands finish (a step is never cut in half); no more start.
    expect(outcome.steps.length).toBeGreaterThanOrEqual(2);
    expect(outcome.steps.length).toBeLessThan(40);
    expect(outcome.steps.map((s) => s.global_step)).toEqual(outcome.steps.map((_, i) => i + 1));
    expect(seen).toEqual(outcome.steps.map((_, i) => i));
    expect(trainer.globalStep).toBe(outcome.steps.length);
  });

  it('an already aborted signal runs no step', async () => {
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    const outcome = await trainer.train(store, [[0]], { signal: AbortSignal.abort() });
    expect(outcome).toEqual({ steps: [], cancelled: true });
    expect(trainer.globalStep).toBe(0);
  });

  it('a second call while one runs rejects as busy instead of racing', async () => {
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    const first = trainer.train(store, Array(4).fill([0, 1]));
    await expect(trainer.train(store, [[0]])).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    await expect(trainer.save('/tmp/never-written.pt')).rejects.toThrow(/busy with train\(\)/);
    expect((await first).steps).toHaveLength(4);
    // Free again once the first call settled.
    expect((await trainer.train(store, [[0]])).steps).toHaveLength(1);
  });

  it('an onStep that throws stops training and rejects with its error', async () => {
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    const boom = new Error('listener failed');
    await expect(
      trainer.train(store, Array(40).fill([0]), {
        onStep: () => {
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
    expect(trainer.globalStep).toBeGreaterThanOrEqual(1);
    expect(trainer.globalStep).toBeLessThan(40);
  });

  it('bad arguments are AsrTrainerErrors naming the field', async () => {
    expect(() => new native.Trainer({ ...TINY_MODEL, d_model: 33 })).toThrow(AsrTrainerError);
    expect(() => new native.Trainer(TINY_MODEL, { learningRate: 1 } as never)).toThrow(
      /unknown field 'learningRate' in train config/,
    );
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    await expect(trainer.train(store, [[0, 99]])).rejects.toThrow(/batches\[0\]\[1\] = 99 is outside the store/);
    await expect(trainer.train({} as FeatureStore, [[0]])).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    if (!native.versions.cuda) {
      expect(() => new native.Trainer(TINY_MODEL, { device: 'cuda' })).toThrow(
        expect.objectContaining({ code: 'E_CUDA_UNAVAILABLE' }),
      );
    }
    await expect(trainer.save('/nonexistent-folder/x.pt')).rejects.toMatchObject({ code: 'E_IO' });
    try {
      native.modelPreset('xxl');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AsrTrainerError);
      expect((error as AsrTrainerError).code).toBe('E_INVALID_ARGUMENT');
    }
  });

  it('evaluates and transcribes', async () => {
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    const result = await trainer.evaluate(store, [[0, 1], [2]]);
    expect(result.utterances).toBe(3);
    expect(result.ids).toEqual(['utt0', 'utt1', 'utt2']);
    expect(result.references).toEqual(['hello world', 'one two three', 'yes']);
    expect(result.cer).toBeGreaterThan(0);
    const texts = await trainer.transcribe(store, [0, 1]);
    expect(texts).toHaveLength(2);
    expect(texts.every((t) => /^[a-z' ]*$/.test(t))).toBe(true);
  });
});
