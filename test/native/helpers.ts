/** Generated inputs for the addon tests: short synthetic utterances and tiny model configs. */
import { writeFile } from 'node:fs/promises';

import { loadNative, type AudioUtterance, type ModelConfig, type TrainConfigInput } from '../../src/native/index.js';
import { seededRandom } from '../helpers/random.js';
import { wavBytes } from '../helpers/wav.js';

export const native = loadNative();

/** A model small enough that a step takes a few milliseconds on two cores. */
export const TINY_MODEL: Partial<ModelConfig> = {
  d_model: 32,
  num_layers: 2,
  num_heads: 2,
  ffn_dim: 64,
  conv_kernel: 7,
  dropout: 0,
};

/**
 * Constant learning rate, no SpecAugment: the same batch gives a falling loss from step one. One thread:
 * a tiny model gains nothing from two, and two OpenMP threads on a busy machine wait on each other at
 * every barrier (measured: 0.02 s steps became 1.3 s under a load of 10 on 2 cores).
 */
export const STEADY_TRAINING: TrainConfigInput = {
  learning_rate: 3e-3,
  warmup_steps: 0,
  seed: 1,
  threads: 1,
  spec_augment: { enabled: false },
};

const TEXTS = ['hello world', 'one two three', 'yes', 'good morning', "it's fine", 'stop now', 'go left', 'red blue'];

/** `seconds` of two sines (their pitch differs per utterance) over a little noise, at `sampleRate`. */
export function syntheticWave(index: number, seconds = 1, sampleRate = 16000): Float32Array {
  const n = Math.round(seconds * sampleRate);
  const wave = new Float32Array(n);
  const noise = seededRandom(index + 1); // the same audio every run
  const f1 = 180 + 40 * index;
  const f2 = 700 + 90 * index;
  for (let i = 0; i < n; i++) {
    const t = i / sampleRate;
    wave[i] = 0.3 * Math.sin(2 * Math.PI * f1 * t) + 0.2 * Math.sin(2 * Math.PI * f2 * t) + 0.05 * (noise() - 0.5);
  }
  return wave;
}

export function syntheticUtterances(count: number, seconds = 1): AudioUtterance[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `utt${i}`,
    samples: syntheticWave(i, seconds + 0.1 * (i % 3)),
    sample_rate: 16000,
    text: TEXTS[i % TEXTS.length],
  }));
}

/** A 16-bit PCM mono WAV file. */
export async function writeWav(path: string, samples: Float32Array, sampleRate: number): Promise<void> {
  await writeFile(path, wavBytes(samples, sampleRate));
}
