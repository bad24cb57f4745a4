/**
 * A real workspace in a fresh temp folder, for every test that trains or serves: a tiny LJSpeech-layout
 * corpus of generated tones (metadata.csv, wavs/, a validation list) and a config.yaml with a tiny Conformer.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type LoadedConfig } from '../../src/config/index.js';
import { wavBytes } from './wav.js';

const WORDS = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'red', 'blue'];

/** One pitch per letter (60 ms each), so different texts sound different. */
function tones(text: string, sampleRate = 16000): Float32Array {
  const perLetter = Math.round(sampleRate * 0.06);
  const out = new Float32Array(perLetter * text.length + sampleRate / 20);
  [...text].forEach((ch, k) => {
    const hz = 200 + (ch.charCodeAt(0) % 32) * 40;
    for (let i = 0; i < perLetter; i++) out[k * perLetter + i] = 0.3 * Math.sin((2 * Math.PI * hz * i) / sampleRate);
  });
  return out;
}

export interface TestWorkspace {
  root: string;
  configPath: string;
  config: LoadedConfig;
  /** The corpus: metadata.csv, val_ids.txt and wavs/TINY-0000.wav…, validation utterances last. */
  datasetDir: string;
  checkpointsDir: string;
  runsDir: string;
  cleanup(): void;
}

export interface WorkspaceOptions {
  /**
   * What config.yaml calls things. `guide` (default): the dataset `ljspeech` (and `missing-set`, configured
   * but absent) and the models `conformer` and `conformer-ref` (the same two-layer network: a reference run
   * beside the one under test), so the API guide's requests work as written. `tiny`: one dataset and one
   * one-layer model, both `tiny`, as the CLI and dashboard tests name them.
   */
  names?: 'guide' | 'tiny';
  /** Training utterances (default 16). */
  train?: number;
  /** Validation utterances (default 4). */
  val?: number;
  epochs?: number;
  batchSize?: number;
  retention?: number;
  saveEverySteps?: number;
  apiToken?: string;
  /** server.prestart_trainer (default false here; true in config.yaml's defaults). */
  prestartTrainer?: boolean;
  /** More `training:` keys, or other values for the ones written by default. */
  training?: Record<string, string | number>;
  /** More `datasets:` entries, name to YAML flow mapping (paths relative to the workspace). */
  datasets?: Record<string, string>;
  /** A `distributed:` section (keys of config.yaml's); absent: none (one process). */
  distributed?: Record<string, string | number>;
}

const TWO_LAYERS = '{ d_model: 32, num_layers: 2, num_heads: 2, ffn_dim: 64, conv_kernel: 7, dropout: 0.1 }';
const ONE_LAYER = '{ d_model: 32, num_layers: 1, num_heads: 2, ffn_dim: 64, conv_kernel: 7, dropout: 0.0 }';

/** The datasets and models sections of config.yaml (dataset files under data/tiny either way). */
function catalogue(names: 'guide' | 'tiny', datasets: Record<string, string> = {}): string[] {
  const more = Object.entries(datasets).map(([name, entry]) => `  ${name}: ${entry}`);
  if (names === 'tiny') {
    return [
      'datasets:',
      '  tiny: { path: data/tiny, val_list: data/tiny/val_ids.txt }',
      ...more,
      'models:',
      `  tiny: ${ONE_LAYER}`,
    ];
  }
  return [
    'datasets:',
    '  ljspeech: { path: data/tiny, val_list: data/tiny/val_ids.txt }',
    '  missing-set: { path: data/not-there }',
    ...more,
    'models:',
    `  conformer: ${TWO_LAYERS}`,
    `  conformer-ref: ${TWO_LAYERS}`,
  ];
}

export function makeWorkspace(options: WorkspaceOptions = {}): TestWorkspace {
  const names = options.names ?? 'guide';
  const root = mkdtempSync(join(tmpdir(), `asr-${names}-`));
  const datasetDir = join(root, 'data', 'tiny');
  mkdirSync(join(datasetDir, 'wavs'), { recursive: true });
  const train = options.train ?? 16;
  const val = options.val ?? 4;
  const lines: string[] = [];
  const ids: string[] = [];
  for (let i = 0; i < train + val; i++) {
    const id = `TINY-${String(i).padStart(4, '0')}`;
    const text = `${WORDS[i % WORDS.length]} ${WORDS[(i * 5 + 3) % WORDS.length]}`;
    writeFileSync(join(datasetDir, 'wavs', `${id}.wav`), wavBytes(tones(text), 16000));
    lines.push(`${id}|${text}|${text}`);
    ids.push(id);
  }
  writeFileSync(join(datasetDir, 'metadata.csv'), lines.join('\n') + '\n');
  writeFileSync(join(datasetDir, 'val_ids.txt'), ids.slice(train).join('\n') + '\n');
  const configPath = join(root, 'config.yaml');
  writeFileSync(
    configPath,
    [
      'server:',
      '  host: 127.0.0.1',
      '  port: 0',
      `  api_token: "${options.apiToken ?? ''}"`,
      // Off unless a test asks: a pre-started trainer per server (Node and LibTorch loading, ~1 core for
      // ~1.5 s) would be spent by every server test that never trains; its own tests turn it on.
      `  prestart_trainer: ${options.prestartTrainer ?? false}`,
      'paths: { checkpoints: checkpoints, runs: runs, cache: .cache }',
      ...catalogue(names, options.datasets),
      'training:',
      ...Object.entries({
        auto_resume: true,
        checkpoint_retention: options.retention ?? 5,
        epochs: options.epochs ?? 2,
        batch_size: options.batchSize ?? 4,
        learning_rate: 0.002,
        warmup_steps: 10,
        save_every_steps: options.saveEverySteps ?? 0,
        threads: 1,
        seed: 0,
        // Not config.yaml's recipe: tests of other behaviour train a few steps on tones, where speed
        // perturbation would triple the feature work and the moving average add a second validation pass
        // (their own tests turn them on). SpecAugment stays on so resume tests cover its random state.
        spec_augment: true,
        speed_perturb: '[]',
        ema_decay: 0,
        ...options.training,
      }).map(([key, value]) => `  ${key}: ${value}`),
      ...(options.distributed
        ? ['distributed:', ...Object.entries(options.distributed).map(([key, value]) => `  ${key}: ${value}`)]
        : []),
      '',
    ].join('\n'),
  );
  const config = loadConfig({ path: configPath, env: {} });
  return {
    root,
    configPath,
    config,
    datasetDir,
    checkpointsDir: config.paths.checkpoints,
    runsDir: config.paths.runs,
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}
