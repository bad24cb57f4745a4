/**
 * Real files for the CLI and dashboard tests: a tiny LJSpeech-layout corpus of generated tones (a WAV
 * writer, no external tools) and a config.yaml with a tiny Conformer, all in a fresh temp folder.
 */

import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { wavBytes } from '../helpers/wav.js';

export { wavBytes };

const WORDS = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'red', 'blue'];

/** A tone sequence with one pitch per letter, so different texts sound different. */
export function toneFor(text: string, sampleRate = 16000): Float32Array {
  const perLetter = Math.round(sampleRate * 0.08);
  const out = new Float32Array(perLetter * text.length + sampleRate / 10);
  [...text].forEach((ch, k) => {
    const hz = 200 + (ch.charCodeAt(0) % 32) * 40;
    for (let i = 0; i < perLetter; i++) {
      out[k * perLetter + i] = 0.3 * Math.sin((2 * Math.PI * hz * i) / sampleRate);
    }
  });
  return out;
}

export interface Workspace {
  root: string;
  configPath: string;
  datasetDir: string;
  checkpointsDir: string;
  runsDir: string;
  cleanup(): void;
}

export interface WorkspaceOptions {
  utterances?: number;
  valUtterances?: number;
  apiToken?: string;
  epochs?: number;
  batchSize?: number;
}

export function makeWorkspace(options: WorkspaceOptions = {}): Workspace {
  const root = mkdtempSync(join(tmpdir(), 'asr-ui-'));
  const datasetDir = join(root, 'data', 'tiny');
  mkdirSync(join(datasetDir, 'wavs'), { recursive: true });
  const count = options.utterances ?? 24;
  const valCount = options.valUtterances ?? 4;
  const lines: string[] = [];
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `TINY-${String(i).padStart(4, '0')}`;
    const text = `${WORDS[i % WORDS.length]} ${WORDS[(i * 5 + 3) % WORDS.length]}`;
    writeFileSync(join(datasetDir, 'wavs', `${id}.wav`), wavBytes(toneFor(text), 16000));
    lines.push(`${id}|${text}|${text}`);
    ids.push(id);
  }
  writeFileSync(join(datasetDir, 'metadata.csv'), lines.join('\n') + '\n');
  writeFileSync(join(datasetDir, 'val_ids.txt'), ids.slice(count - valCount).join('\n') + '\n');
  const configPath = join(root, 'config.yaml');
  writeFileSync(
    configPath,
    `server: { host: 127.0.0.1, port: 0, api_token: "${options.apiToken ?? ''}" }
paths: { checkpoints: checkpoints, runs: runs, cache: .cache }
datasets:
  tiny: { path: data/tiny, val_list: data/tiny/val_ids.txt }
models:
  tiny: { d_model: 32, num_layers: 1, num_heads: 2, ffn_dim: 64, conv_kernel: 7, dropout: 0.0 }
training:
  auto_resume: true
  checkpoint_retention: 5
  epochs: ${options.epochs ?? 2}
  batch_size: ${options.batchSize ?? 4}
  learning_rate: 0.002
  warmup_steps: 10
  threads: 1
  seed: 0
`,
  );
  return {
    root,
    configPath,
    datasetDir,
    checkpointsDir: join(root, 'checkpoints'),
    runsDir: join(root, 'runs'),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}
