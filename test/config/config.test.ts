import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AsrTrainerError } from '../../src/errors.js';
import {
  AsrConfigSchema,
  canonicalJson,
  configHash,
  DEFAULT_MODEL_PRESET,
  loadConfig,
  modelPresets,
  resolveConfigPath,
  resolveModelDimensions,
  runConfigHash,
  runConfigSnapshot,
} from '../../src/config/index.js';
import { Value } from '@sinclair/typebox/value';
import { loadNative, type ModelConfig } from '../../src/native/index.js';

const repoRoot = path.resolve(__dirname, '../..');
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'asr-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(text: string, name = 'config.yaml'): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function loadError(text: string, env: NodeJS.ProcessEnv = {}): AsrTrainerError {
  const file = writeConfig(text);
  try {
    loadConfig({ path: file, env });
  } catch (error) {
    expect(error).toBeInstanceOf(AsrTrainerError);
    return error as AsrTrainerError;
  }
  throw new Error('loadConfig accepted an invalid config');
}

describe('config defaults', () => {
  it('an empty file gives the documented defaults with paths resolved against its folder', () => {
    const config = loadConfig({ path: writeConfig(''), env: {} });
    expect(config.server).toEqual({ host: '127.0.0.1', port: 8000, api_token: '', prestart_trainer: true });
    expect(config.paths).toEqual({
      checkpoints: path.join(dir, 'checkpoints'),
      runs: path.join(dir, 'runs'),
      cache: path.join(dir, '.cache'),
    });
    expect(Object.keys(config.datasets)).toEqual(['ljspeech', 'mini-ljspeech']);
    expect(config.datasets.ljspeech).toEqual({
      path: path.join(dir, 'data/LJSpeech-1.1'),
      val_fraction: 0.05,
      max_skipped_fraction: 0.1,
    });
    expect(config.models).toEqual({ conformer: { preset: 'xs' } });
    expect(config.training).toMatchObject({
      auto_resume: true,
      checkpoint_retention: 5,
      epochs: 10,
      batch_size: 16,
      learning_rate: 0.003,
      warmup_steps: 100,
      save_every_steps: 0,
      lightweight_samples: 64,
      device: 'auto',
      threads: 'auto',
      seed: 0,
      spec_augment: false,
      speed_perturb: [0.9, 1.0, 1.1],
      ema_decay: 0.995,
      precision: 'fp32',
    });
    expect(config.configPath).toBe(path.join(dir, 'config.yaml'));
    expect(Value.Check(AsrConfigSchema, { ...config, configPath: undefined })).toBe(false);
  });

  it('the repository config.yaml is valid and equals the built-in defaults', () => {
    const repo = loadConfig({ path: path.join(repoRoot, 'config.yaml'), env: {} });
    const builtIn = loadConfig({ path: writeConfig(''), env: {} });
    const rebase = (p: string) => path.relative(repoRoot, p);
    expect(repo.server).toEqual(builtIn.server);
    expect(repo.training).toEqual(builtIn.training);
    expect(repo.models).toEqual(builtIn.models);
    expect(rebase(repo.datasets['mini-ljspeech'].path!)).toBe('data/mini-ljspeech');
    expect(rebase(repo.datasets['mini-ljspeech'].val_list!)).toBe('data/mini-ljspeech/val_ids.txt');
    expect(path.relative(dir, builtIn.datasets['mini-ljspeech'].val_list!)).toBe('data/mini-ljspeech/val_ids.txt');
  });

  it('a section given in part keeps the defaults of the keys it leaves out', () => {
    const config = loadConfig({ path: writeConfig('training:\n  epochs: 3\nserver:\n  port: 0\n'), env: {} });
    expect(config.training.epochs).toBe(3);
    expect(config.training.batch_size).toBe(16);
    expect(config.server).toEqual({ host: '127.0.0.1', port: 0, api_token: '', prestart_trainer: true });
  });

  it('a datasets map given in the file replaces the built-in one, each entry with its defaults', () => {
    const config = loadConfig({
      path: writeConfig('datasets:\n  tiny: { path: ../elsewhere/tiny, val_list: lists/val.txt }\n'),
      env: {},
    });
    expect(config.datasets).toEqual({
      tiny: {
        path: path.resolve(dir, '../elsewhere/tiny'),
        val_list: path.join(dir, 'lists/val.txt'),
        val_fraction: 0.05,
        max_skipped_fraction: 0.1,
      },
    });
  });

  it('absolute paths are kept as written', () => {
    const config = loadConfig({ path: writeConfig('paths:\n  checkpoints: /var/tmp/ckpts\n'), env: {} });
    expect(config.paths.checkpoints).toBe('/var/tmp/ckpts');
  });
});

describe('config validation errors name the key path and the file', () => {
  it('an unknown key in a section', () => {
    const error = loadError('training:\n  epochz: 3\n');
    expect(error.code).toBe('E_CONFIG_INVALID');
    expect(error.message).toContain(path.join(dir, 'config.yaml'));
    expect(error.message).toMatch(/training\.epochz: unknown key \(known keys: auto_resume, .*epochs/);
  });

  it('an unknown top-level section', () => {
    const error = loadError('trainer:\n  epochs: 3\n');
    expect(error.message).toContain(
      'trainer: unknown key (known keys: server, paths, datasets, models, training, distributed)',
    );
  });

  it('a node_rank outside nnodes, with the fix', () => {
    const error = loadError('distributed:\n  nnodes: 2\n  node_rank: 2\n');
    expect(error.message).toContain('distributed.node_rank: must be below distributed.nnodes (2)');
  });

  it('a backend that c10d does not have', () => {
    expect(loadError('distributed:\n  backend: mpi\n').message).toContain(
      'distributed.backend: must be one of auto, gloo, nccl',
    );
  });

  it('an unknown key inside a dataset entry', () => {
    const error = loadError('datasets:\n  mine:\n    path: d\n    val_fracton: 0.1\n');
    expect(error.message).toContain('datasets.mine.val_fracton: unknown key');
  });

  it('a wrong type, with what was expected and what was given', () => {
    expect(loadError('server:\n  port: "8000"\n').message).toContain(
      'server.port: must be an integer >= 0 and <= 65535 (got "8000")',
    );
    expect(loadError('training:\n  auto_resume: "yes"\n').message).toContain(
      'training.auto_resume: must be true or false (got "yes")',
    );
    expect(loadError('training: 5\n').message).toContain('training: must be a mapping (got 5)');
    expect(loadError('training:\n  threads: many\n').message).toContain(
      'training.threads: must be "auto" or an integer >= 1 (got "many")',
    );
    expect(loadError('training:\n  device: gpu\n').message).toContain(
      'training.device: must be one of auto, cpu, cuda, cuda:N (got "gpu")',
    );
    expect(loadError('training:\n  precision: fp16\n').message).toContain('training.precision');
    expect(loadError('models:\n  big: { d_model: 2.5 }\n').message).toContain(
      'models.big.d_model: must be an integer (got 2.5)',
    );
  });

  it('checkpoint_retention: 0 keeps all, negative and fractional values fail', () => {
    expect(
      loadConfig({ path: writeConfig('training:\n  checkpoint_retention: 0\n'), env: {} }).training
        .checkpoint_retention,
    ).toBe(0);
    expect(loadError('training:\n  checkpoint_retention: -1\n').message).toContain(
      'training.checkpoint_retention: must be an integer >= 0 (got -1)',
    );
    expect(loadError('training:\n  checkpoint_retention: 2.5\n').message).toContain(
      'training.checkpoint_retention: must be an integer >= 0 (got 2.5)',
    );
  });

  it('ema_decay: 0.995 by default, a number in [0, 1) otherwise (0 = off), with the fix when wrong', () => {
    expect(loadConfig({ path: writeConfig(''), env: {} }).training.ema_decay).toBe(0.995);
    expect(loadConfig({ path: writeConfig('training:\n  ema_decay: 0\n'), env: {} }).training.ema_decay).toBe(0);
    expect(loadConfig({ path: writeConfig('training:\n  ema_decay: 0.999\n'), env: {} }).training.ema_decay).toBe(
      0.999,
    );
    for (const bad of ['1', '-0.1', '"high"']) {
      expect(loadError(`training:\n  ema_decay: ${bad}\n`).message).toContain(
        'training.ema_decay: must be a number >= 0 and < 1 (0 turns the moving average off; 0.999 is usual)',
      );
    }
  });

  it("val_beam: greedy (1) by default, a beam width up to the addon's maximum otherwise", () => {
    expect(loadConfig({ path: writeConfig(''), env: {} }).training.val_beam).toBe(1);
    expect(loadConfig({ path: writeConfig('training:\n  val_beam: 8\n'), env: {} }).training.val_beam).toBe(8);
    for (const bad of ['0', '257', '2.5']) {
      expect(loadError(`training:\n  val_beam: ${bad}\n`).message).toContain(
        'training.val_beam: must be an integer from 1 (greedy decoding) to 256 (a CTC prefix beam of that width)',
      );
    }
  });

  it('speed_perturb: 0.9/1.0/1.1 by default, a list of distinct factors in (0.5, 2] otherwise, [] off', () => {
    expect(loadConfig({ path: writeConfig(''), env: {} }).training.speed_perturb).toEqual([0.9, 1.0, 1.1]);
    expect(
      loadConfig({ path: writeConfig('training:\n  speed_perturb: []\n'), env: {} }).training.speed_perturb,
    ).toEqual([]);
    expect(
      loadConfig({ path: writeConfig('training:\n  speed_perturb: [0.9, 1.0, 1.1]\n'), env: {} }).training
        .speed_perturb,
    ).toEqual([0.9, 1.0, 1.1]);
    expect(loadError('training:\n  speed_perturb: [0.9, 2.5]\n').message).toContain(
      'must be a speed factor > 0.5 and <= 2 (got 2.5)',
    );
    expect(loadError('training:\n  speed_perturb: [0.5]\n').message).toContain('(got 0.5)');
    expect(loadError('training:\n  speed_perturb: [1.1, 1.1]\n').message).toContain(
      'training.speed_perturb: must be a list of distinct speed factors',
    );
    expect(loadError('training:\n  speed_perturb: 1.1\n').message).toContain('training.speed_perturb');
  });

  it('a dataset without a path and a bad dataset name', () => {
    const error = loadError('datasets:\n  mine: { val_fraction: 0.2 }\n  "bad name": { path: x }\n');
    expect(error.message).toContain('datasets.mine.path: missing: give path (the corpus folder or manifest), train');
    expect(error.message).toContain('datasets.bad name: name must start with a letter or digit');
    expect((error.details?.errors as unknown[]).length).toBe(2);
  });

  it('refuses a model named with capitals, which no checkpoint file could be saved under, naming the fix', () => {
    const error = loadError('models:\n  Conformer: { preset: xs }\n');
    expect(error.code).toBe('E_CONFIG_INVALID');
    expect(error.message).toContain(
      "models.Conformer: name must be lowercase (it becomes part of checkpoint file names): use 'conformer'",
    );
  });

  it('refuses a name longer than the 100 characters a checkpoint file name leaves room for', () => {
    const long = 'd'.repeat(101);
    expect(loadError(`datasets:\n  ${long}: { path: x }\n`).message).toContain(
      `datasets.${long}: name is 101 characters long; it becomes part of checkpoint file names, so at most 100`,
    );
    expect(
      loadConfig({ path: writeConfig(`datasets:\n  ${'d'.repeat(100)}: { path: x }\n`), env: {} }).datasets,
    ).toHaveProperty('d'.repeat(100));
  });

  it("model dimensions that cannot build a model, each named by its key with the core's rule", () => {
    const error = loadError(
      'models:\n  odd: { d_model: 100, num_heads: 3, conv_kernel: 30 }\n  empty: { ffn_dim: 0, dropout: 1 }\n',
    );
    expect(error.message).toContain(
      'models.odd.d_model: must be a multiple of num_heads, 3 (got 100): each head takes d_model / num_heads',
    );
    expect(error.message).toContain(
      "models.odd.conv_kernel: must be odd and >= 1 (got 30): only an odd kernel keeps the length with 'same' padding",
    );
    expect(error.message).toContain('models.empty.ffn_dim: must be > 0 (got 0)');
    expect(error.message).toContain('models.empty.dropout: must be >= 0 and < 1 (got 1)');
    expect((error.details?.errors as unknown[]).length).toBe(4);
  });

  it('a YAML syntax error gives file:line', () => {
    const error = loadError('training:\n  epochs: 3\n   batch_size: [\n');
    expect(error.code).toBe('E_CONFIG_INVALID');
    expect(error.message).toMatch(
      new RegExp(`${path.join(dir, 'config.yaml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: YAML syntax`),
    );
  });

  it('a duplicated key is an error, not a silent override', () => {
    expect(loadError('training:\n  epochs: 3\n  epochs: 4\n').message).toContain('YAML syntax');
  });
});

describe('config location and environment', () => {
  it('--config wins over ASR_CONFIG, which wins over ./config.yaml', () => {
    const a = writeConfig('server: { port: 1 }\n', 'a.yaml');
    const b = writeConfig('server: { port: 2 }\n', 'b.yaml');
    writeConfig('server: { port: 3 }\n');
    expect(resolveConfigPath({ path: a, env: { ASR_CONFIG: b }, cwd: dir })).toBe(a);
    expect(resolveConfigPath({ env: { ASR_CONFIG: 'b.yaml' }, cwd: dir })).toBe(b);
    expect(resolveConfigPath({ env: {}, cwd: dir })).toBe(path.join(dir, 'config.yaml'));
    expect(loadConfig({ env: { ASR_CONFIG: b }, cwd: dir }).server.port).toBe(2);
  });

  it('without a local config.yaml the package root one is used', () => {
    const empty = path.join(dir, 'empty');
    mkdirSync(empty);
    expect(resolveConfigPath({ env: {}, cwd: empty })).toBe(path.join(repoRoot, 'config.yaml'));
  });

  it('a missing --config file is an error naming it', () => {
    expect(() => resolveConfigPath({ path: 'nope.yaml', env: {}, cwd: dir })).toThrow(
      `Config file not found: ${path.join(dir, 'nope.yaml')} (given by --config)`,
    );
  });

  it('ASR_API_TOKEN overrides server.api_token; the file value is used otherwise', () => {
    const file = writeConfig('server:\n  api_token: from-file\n');
    expect(loadConfig({ path: file, env: {} }).server.api_token).toBe('from-file');
    expect(loadConfig({ path: file, env: { ASR_API_TOKEN: 'from-env' } }).server.api_token).toBe('from-env');
  });
});

/** A core ModelConfig without the fields a config entry does not set (they follow the data). */
function entryDimensions(config: ModelConfig) {
  return Object.fromEntries(Object.entries(config).filter(([key]) => key !== 'n_mels' && key !== 'vocab_size'));
}

describe('models and hashes', () => {
  it('the config sees every preset the core defines, with its dimensions (real addon)', () => {
    const core = loadNative().modelPresets();
    const names = Object.keys(core);
    expect(names).toContain(DEFAULT_MODEL_PRESET);
    expect(modelPresets()).toEqual(core);
    const config = loadConfig({
      path: writeConfig(`models:\n${names.map((name) => `  p${name}: { preset: ${name} }\n`).join('')}`),
      env: {},
    });
    for (const name of names) {
      expect(resolveModelDimensions(config, `p${name}`)).toEqual(entryDimensions(core[name]));
    }
    expect(loadError('models:\n  big: { preset: xxl }\n').message).toContain(
      `models.big.preset: must be one of ${names.join(', ')} (got "xxl")`,
    );
  });

  it('presets resolve to their dimensions and single keys override them', () => {
    const config = loadConfig({
      path: writeConfig('models:\n  a: { preset: m }\n  b: { preset: l, num_layers: 2, dropout: 0 }\n  c: {}\n'),
      env: {},
    });
    const core = loadNative().modelPresets();
    expect(resolveModelDimensions(config, 'a')).toEqual(entryDimensions(core.m));
    expect(resolveModelDimensions(config, 'b')).toEqual({ ...entryDimensions(core.l), num_layers: 2, dropout: 0 });
    expect(resolveModelDimensions(config, 'c')).toEqual({
      d_model: 144,
      num_layers: 4,
      num_heads: 4,
      ffn_dim: 576,
      conv_kernel: 31,
      dropout: 0.1,
    });
    expect(() => resolveModelDimensions(config, 'zz')).toThrow("Unknown model 'zz'. Configured models: a, b, c");
  });

  it('the hash ignores key order and changes with any value', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}',
    );
    expect(configHash({ a: 1, b: 2 })).toBe(configHash({ b: 2, a: 1 }));
    expect(configHash({ a: 1, b: 2 })).not.toBe(configHash({ a: 1, b: 3 }));
    expect(configHash({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the run snapshot leaves out paths and the token', () => {
    const one = loadConfig({ path: writeConfig('server: { api_token: secret }\n'), env: {} });
    const other = path.join(dir, 'other');
    mkdirSync(other);
    writeFileSync(path.join(other, 'config.yaml'), 'server: { port: 9 }\n');
    const two = loadConfig({ path: path.join(other, 'config.yaml'), env: {} });
    expect(JSON.stringify(runConfigSnapshot(one, 'conformer', 'mini-ljspeech'))).not.toContain('secret');
    expect(runConfigHash(one, 'conformer', 'mini-ljspeech')).toBe(runConfigHash(two, 'conformer', 'mini-ljspeech'));
    expect(() => runConfigSnapshot(one, 'conformer', 'nope')).toThrow(
      "Unknown dataset 'nope'. Configured datasets: ljspeech, mini-ljspeech",
    );
  });
});
