import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AsrTrainerError } from '../../src/errors.js';
import type { FeatureStore } from '../../src/native/index.js';
import { native, STEADY_TRAINING, syntheticUtterances, TINY_MODEL } from './helpers.js';

// The averaging maths is checked tensor by tensor in native/tests/test_checkpoint_average.cpp; this is
// the binding: arguments, the promise, the summary, the error class, and an output a Trainer loads.
describe('averageCheckpoints', () => {
  let dir: string;
  let store: FeatureStore;
  const inputs: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'asr-native-average-'));
    store = await native.FeatureStore.fromAudio(syntheticUtterances(4));
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    for (let epoch = 1; epoch <= 3; epoch += 1) {
      await trainer.train(store, [[0, 1]]);
      const path = join(dir, `epoch-${epoch}.pt`);
      await trainer.save(path, { epoch, step: epoch, metrics: { val_cer: 0.5 } });
      inputs.push(path);
    }
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a checkpoint that a trainer loads, with the last input position and no optimizer moments', async () => {
    const output = join(dir, 'average.pt');
    const summary = await native.averageCheckpoints(inputs, output);
    expect(summary).toMatchObject({ checkpoints: 3, globalStep: 3, optimizerState: 'dropped' });
    expect(summary.averagedTensors).toBeGreaterThan(0);
    expect(summary.copiedTensors).toBeGreaterThan(0);
    const meta = await native.readCheckpointMeta(output);
    expect(meta).toMatchObject({ epoch: 3, global_step: 3, metrics: {} });
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    await trainer.load(output);
    expect(trainer.globalStep).toBe(3);
  });

  it('rejects mismatched models, missing files and bad arguments with codes', async () => {
    const other = join(dir, 'other.pt');
    const wider = new native.Trainer({ ...TINY_MODEL, ffn_dim: 48 }, STEADY_TRAINING);
    await wider.save(other, { epoch: 1 });
    const error = await native.averageCheckpoints([inputs[0], other], join(dir, 'never.pt')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AsrTrainerError);
    expect((error as AsrTrainerError).code).toBe('E_SHAPE_MISMATCH');
    expect((error as AsrTrainerError).message).toContain('ffn1');
    await expect(native.averageCheckpoints([join(dir, 'nope.pt')], join(dir, 'never.pt'))).rejects.toMatchObject({
      code: 'E_CHECKPOINT_NOT_FOUND',
    });
    expect(() => native.averageCheckpoints([], join(dir, 'never.pt'))).toThrow(/at least one checkpoint/);
  });
});
