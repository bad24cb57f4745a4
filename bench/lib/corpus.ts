/**
 * The benchmark's inputs, built once per run from the bundled mini corpus and handed to both sides
 * identically: the project gets an in-memory FeatureStore of the 16 kHz samples, the reference the same
 * samples as a raw float32 file (it computes the same Kaldi fbank with torchaudio).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { loadConfig, type LoadedConfig } from '../../src/config/index.js';
import { loadDataset, type UtteranceSpec } from '../../src/data/index.js';
import type { FeatureStore, NativeAddon } from '../../src/native/index.js';

export const REPO = new URL('../..', import.meta.url).pathname;
const RATE = 16000;

export interface BenchBatch {
  name: string;
  description: string;
  samples: Float32Array[];
  texts: string[];
  /** Raw little-endian float32 of every utterance back to back, for the reference. */
  audioFile: string;
  store: FeatureStore;
  /** Indices into `store`: the whole batch. */
  indices: number[];
}

/** The mini corpus's train/val split as the project's config.yaml defines it. */
export function miniCorpus(): { train: UtteranceSpec[]; val: UtteranceSpec[] } {
  const config = loadConfig({ path: join(REPO, 'config.yaml'), env: {} });
  const split = loadDataset(config, 'mini-ljspeech');
  return { train: split.train, val: split.val };
}

export async function readAll(addon: NativeAddon, specs: UtteranceSpec[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const spec of specs) out.push((await addon.readAudio(spec.wav_path)).samples);
  return out;
}

export async function makeBatch(
  addon: NativeAddon,
  dir: string,
  name: string,
  description: string,
  samples: Float32Array[],
  texts: string[],
): Promise<BenchBatch> {
  const total = samples.reduce((n, s) => n + s.length, 0);
  const flat = new Float32Array(total);
  let at = 0;
  for (const s of samples) flat.set(s, (at += s.length) - s.length);
  const audioFile = join(dir, `${name}.f32`);
  writeFileSync(audioFile, Buffer.from(flat.buffer));
  const store = await addon.FeatureStore.fromAudio(
    samples.map((s, i) => ({ id: `${name}-${i}`, samples: s, sample_rate: RATE, text: texts[i] })),
  );
  return { name, description, samples, texts, audioFile, store, indices: samples.map((_, i) => i) };
}

/**
 * `count` utterances of exactly `seconds`: whole consecutive corpus utterances joined until the next
 * would not fit, then silence to the length (so every transcript is exact and the batch has no padding).
 */
export function fixedLength(
  audio: Float32Array[],
  texts: string[],
  count: number,
  seconds: number,
): { samples: Float32Array[]; texts: string[] } {
  const n = Math.round(seconds * RATE);
  const outSamples: Float32Array[] = [];
  const outTexts: string[] = [];
  let next = 0;
  for (let k = 0; k < count; k++) {
    const buf = new Float32Array(n);
    const words: string[] = [];
    let at = 0;
    while (next < audio.length && at + audio[next].length <= n) {
      buf.set(audio[next], at);
      at += audio[next].length;
      words.push(texts[next]);
      next += 1;
    }
    if (words.length === 0) {
      buf.set(audio[next].subarray(0, n));
      words.push(texts[next].slice(0, Math.floor((texts[next].length * n) / audio[next].length)));
      next += 1;
    }
    outSamples.push(buf);
    outTexts.push(words.join(' '));
  }
  return { samples: outSamples, texts: outTexts };
}

/**
 * Writes `dir/config.yaml` for an xs Conformer on the bundled mini corpus, with `training` (and any other
 * top-level) settings given as YAML lines, and returns the loaded config.
 */
export function miniCorpusConfig(dir: string, training: string[], extra: string[] = []): LoadedConfig {
  const data = join(REPO, 'data', 'mini-ljspeech');
  const path = join(dir, 'config.yaml');
  writeFileSync(
    path,
    [
      ...extra,
      'paths: { checkpoints: checkpoints, runs: runs, cache: .cache }',
      'datasets:',
      `  mini-ljspeech: { path: ${data}, val_list: ${join(data, 'val_ids.txt')} }`,
      'models:',
      '  conformer: { preset: xs }',
      'training:',
      ...training.map((line) => `  ${line}`),
      '',
    ].join('\n'),
  );
  return loadConfig({ path, env: {} });
}
