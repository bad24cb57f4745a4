import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { makeMiniCorpus } from '../../src/data/mini-corpus.js';
import { readMetadata } from '../../src/data/metadata.js';
import type { UtteranceSpec } from '../../src/native/index.js';
import { native } from './helpers.js';

const FACTORS = [0.9, 1.0, 1.1];

describe('FeatureStore speed perturbation (real addon, espeak-ng clips)', () => {
  let dir: string;
  let specs: UtteranceSpec[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'asr-native-speed-'));
    const corpus = join(dir, 'corpus');
    await makeMiniCorpus({ out: corpus, count: 8, seed: 5 });
    specs = readMetadata(join(corpus, 'metadata.csv')).map((e) => ({
      id: e.id,
      wav_path: join(corpus, 'wavs', `${e.id}.wav`),
      text: e.transcript,
    }));
  }, 60_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('caches each factor once: a file per factor, a reopen computes nothing', async () => {
    const cacheDir = join(dir, 'cache');
    const first = await native.FeatureStore.open(specs, {
      cache_dir: cacheDir,
      cache_name: 'mini',
      speed_factors: FACTORS,
    });
    expect(first.utterances).toBe(8);
    expect(first.size).toBe(24);
    expect(first.speedFactors).toEqual(FACTORS);
    expect(first.computed).toBe(24);
    expect((await readdir(cacheDir)).sort()).toEqual(['mini.fbank', 'mini.speed0.9.fbank', 'mini.speed1.1.fbank']);
    // Block 1 holds the 0.9 copies (slower: more frames), block 2 the 1.1 ones.
    for (let u = 0; u < 8; u++) {
      expect(first.id(u + 8)).toBe(first.id(u));
      expect(first.frames(u + 8)).toBeGreaterThan(first.frames(u));
      expect(first.frames(u + 16)).toBeLessThan(first.frames(u));
      expect(Math.abs(first.frames(u + 16) - first.frames(u) / 1.1)).toBeLessThanOrEqual(3);
    }

    const again = await native.FeatureStore.open(specs, {
      cache_dir: cacheDir,
      cache_name: 'mini',
      speed_factors: FACTORS,
    });
    expect(again.computed).toBe(0);
    expect(again.cached).toBe(24);
    expect(again.totalFrames).toBe(first.totalFrames);
  });

  it('planEpoch draws each utterance one speed per epoch: the same epoch twice is equal, another differs', async () => {
    const store = await native.FeatureStore.open(specs, { cache_dir: '', speed_factors: FACTORS });
    const options = { batch_size: 3, seed: 9 };
    const plan = store.planEpoch(options, 4);
    expect(store.planEpoch(options, 4)).toEqual(plan);
    expect(
      plan
        .flat()
        .map((i) => i % 8)
        .sort(),
    ).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // Speeds change between epochs even where the shuffle would not matter.
    const speeds = (p: number[][]): number[] => {
      const bySpeed = new Array<number>(8);
      for (const i of p.flat()) bySpeed[i % 8] = Math.floor(i / 8);
      return bySpeed;
    };
    const epochs = [4, 5, 6, 7, 8].map((e) => speeds(store.planEpoch(options, e)));
    expect(new Set(epochs.map((s) => s.join())).size).toBeGreaterThan(1);
    expect(new Set(epochs.flat()).size).toBe(3);
  });

  it('refuses a factor outside (0.5, 2] with the fix', async () => {
    await expect(native.FeatureStore.open(specs, { cache_dir: '', speed_factors: [0.9, 3] })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: expect.stringContaining('speed factor 3 is outside (0.5, 2]'),
    });
  });
});
