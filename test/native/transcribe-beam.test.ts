import { beforeAll, describe, expect, it } from 'vitest';

import type { FeatureStore, Trainer } from '../../src/native/index.js';
import { native, STEADY_TRAINING, syntheticUtterances, TINY_MODEL } from './helpers.js';

/** Character edit distance over reference length, summed over utterances (as the core's CER). */
function cer(references: string[], hypotheses: string[]): number {
  let errors = 0;
  let length = 0;
  references.forEach((ref, i) => {
    const hyp = hypotheses[i] ?? '';
    let row = Array.from({ length: hyp.length + 1 }, (_, j) => j);
    for (let r = 1; r <= ref.length; r += 1) {
      const next = [r];
      for (let h = 1; h <= hyp.length; h += 1) {
        next.push(Math.min(row[h]! + 1, next[h - 1]! + 1, row[h - 1]! + (ref[r - 1] === hyp[h - 1] ? 0 : 1)));
      }
      row = next;
    }
    errors += row[hyp.length]!;
    length += ref.length;
  });
  return errors / length;
}

// The search itself is checked on crafted log-probabilities in native/tests/test_beam_search.cpp; this is
// the binding: the option, its checks, and the decoding a trained model gets through Trainer.transcribe.
describe('Trainer.transcribe with a beam', () => {
  let store: FeatureStore;
  let trainer: Trainer;
  let indices: number[];
  let references: string[];

  beforeAll(async () => {
    store = await native.FeatureStore.fromAudio(syntheticUtterances(4));
    indices = Array.from({ length: store.size }, (_, i) => i);
    references = indices.map((i) => store.text(i));
    trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    // The same batch over and over: a tiny model learns it well enough for its output to be peaked.
    await trainer.train(
      store,
      Array.from({ length: 80 }, () => indices),
    );
  }, 120_000);

  it('decodes as greedy with width 1 and no worse than greedy with width 8', async () => {
    const greedy = await trainer.transcribe(store, indices);
    const widthOne = await trainer.transcribe(store, indices, { beam: 1 });
    const widthEight = await trainer.transcribe(store, indices, { beam: 8 });
    const greedyCer = cer(references, greedy);
    expect(greedyCer, `greedy ${JSON.stringify(greedy)}`).toBeLessThan(0.9);
    expect(widthOne).toEqual(greedy);
    expect(cer(references, widthEight)).toBeLessThanOrEqual(greedyCer);
    expect(widthEight).toHaveLength(references.length);
  });

  it.each([0, -1, 257, 1.5, '8', null])('rejects beam %j with E_INVALID_ARGUMENT', async (beam) => {
    await expect(trainer.transcribe(store, indices, { beam: beam as number })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: expect.stringMatching(/beam/),
    });
  });

  it('rejects an unknown option and stays usable after a refusal', async () => {
    await expect(trainer.transcribe(store, indices, { width: 8 } as unknown as { beam: number })).rejects.toMatchObject(
      { code: 'E_INVALID_ARGUMENT', message: expect.stringMatching(/unknown field 'width'/) },
    );
    await expect(trainer.transcribe(store, [0], { beam: 4 })).resolves.toHaveLength(1);
  });
});
