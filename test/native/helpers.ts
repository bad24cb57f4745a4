/** Generated inputs for the addon tests: short synthetic utterances and tiny model configs. */
import { writeFile } from 'node:fs/promises';

import { loadNative, type AudioUtterance, type ModelConfig, type TrainConfigInput } from '../../src/native.js';

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

/** Deterministic noise (mulberry32), so every run sees the same audio. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TEXTS = ['hello world', 'one two three', 'yes', 'good morning', "it's fine", 'stop now', 'go left', 'red blue'];

/** `seconds` of two sines (their pitch differs per utterance) over a little noise, at `sampleRate`. */
export function syntheticWave(index: number, seconds = 1, sampleRate = 16000): Float32Array {
  const n = Math.round(seconds * sampleRate);
  const wave = new Float32Array(n);
  const noise = random(index + 1);
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
  const data = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) {
    data.writeInt16LE(Math.round(Math.max(-1, Math.min(1, samples[i])) * 32767), i * 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  await writeFile(path, Buffer.concat([header, data]));
}
