import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { UtteranceSpec } from '../../src/native/index.js';
import { native, syntheticWave, writeWav } from './helpers.js';

describe('FeatureStore and audio (real addon)', () => {
  let dir: string;
  let specs: UtteranceSpec[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'asr-native-fs-'));
    specs = [];
    for (let i = 0; i < 4; i++) {
      const wav = join(dir, `utt${i}.wav`);
      await writeWav(wav, syntheticWave(i, 1), 16000);
      specs.push({ id: `utt${i}`, wav_path: wav, text: 'hello world' });
    }
    specs.push({ id: 'gone', wav_path: join(dir, 'missing.wav'), text: 'hello' });
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('open computes features into the cache once and reports progress; a second open reuses them', async () => {
    const progress: Array<[number, number]> = [];
    const cacheDir = join(dir, 'cache');
    const first = await native.FeatureStore.open(specs, { cache_dir: cacheDir, threads: 2 }, (done, total) =>
      progress.push([done, total]),
    );
    expect(first.size).toBe(4);
    expect(first.skipped).toEqual([{ id: 'gone', reason: 'missing wav' }]);
    expect(first.cachePath.startsWith(cacheDir)).toBe(true);
    expect(first.computed).toBe(5);
    expect(progress[0]).toEqual([0, progress[0][1]]);
    expect(progress.at(-1)).toEqual([progress[0][1], progress[0][1]]);

    const second = await native.FeatureStore.open(specs, { cache_dir: cacheDir });
    expect(second.computed).toBe(0);
    expect(second.cached).toBe(5);
    expect(second.totalFrames).toBe(first.totalFrames);
  });

  it('plans epochs as a pure function of (store, options, epoch)', async () => {
    const store = await native.FeatureStore.open(specs, { cache_dir: '' });
    const plan = store.planEpoch({ batch_size: 2, seed: 3 }, 1);
    expect(plan.flat().sort()).toEqual([0, 1, 2, 3]);
    expect(store.planEpoch({ batch_size: 2, seed: 3 }, 1)).toEqual(plan);
    expect(() => store.planEpoch({ batchSize: 2 } as never, 1)).toThrow(/unknown field 'batchSize'/);
  });

  it('readAudio resamples to 16 kHz, and fbank gives Kaldi-shaped frames', async () => {
    const wav = join(dir, 'eight-k.wav');
    await writeWav(wav, syntheticWave(0, 1, 8000), 8000);
    const audio = await native.readAudio(wav);
    expect(audio.sample_rate).toBe(16000);
    expect(audio.samples.length).toBe(16000);
    const feats = await native.fbank(audio.samples, 16000);
    expect([feats.frames, feats.bins]).toEqual([98, 80]);
    expect(feats.data.length).toBe(98 * 80);
    await expect(native.readAudio(join(dir, 'missing.wav'))).rejects.toMatchObject({ code: 'E_AUDIO_READ' });
  });
});
