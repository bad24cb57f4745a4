import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig, type AsrConfig } from '../../src/config/index.js';
import { assertDatasetPresent, loadDataset, splitsNamed } from '../../src/data/index.js';
import { loadNative } from '../../src/native/index.js';
import { makeCorpora, missingCodecTools, type Clip, type Placement } from '../helpers/corpora.js';
import { describeOrSkip } from '../helpers/skip.js';
import { thrown } from '../helpers/thrown.js';

let dir: string;
let clips: Clip[];
let placements: Placement[];

function configWith(datasets: Record<string, unknown>): AsrConfig {
  return parseConfig({ datasets }, { baseDir: dir, env: {} });
}

const ids = (utterances: { id: string }[]) => utterances.map((u) => u.id);

describeOrSkip('corpus formats', missingCodecTools(), () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'asr-formats-'));
    ({ clips, placements } = makeCorpora(dir));
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('LibriSpeech: the train*/dev*/test* folders play their roles and each test folder is a named split', () => {
    const config = configWith({ libri: { path: 'LibriSpeech' } });
    const libri = loadDataset(config, 'libri');
    expect(libri.format).toBe('librispeech');
    expect(libri.splits.map((s) => [s.name, s.role, s.utterances.length])).toEqual([
      ['train-clean-100', 'train', 4],
      ['dev-clean', 'validation', 1],
      ['test-clean', 'test', 1],
      ['test-other', 'test', 2],
    ]);
    expect(libri.train[0]).toEqual({
      id: '100-2000-0000',
      wav_path: path.join(dir, 'LibriSpeech/train-clean-100/100/2000/100-2000-0000.flac'),
      text: clips[0].text,
    });
    expect(splitsNamed(libri, 'test').map((s) => s.name)).toEqual(['test-clean', 'test-other']);
    expect(ids(splitsNamed(libri, 'test-other')[0].utterances)).toEqual(['103-2000-0000', '103-2000-0001']);
  });

  it('LibriSpeech lists name the sub-folders; an unknown split name fails listing the known ones', () => {
    const config = configWith({
      libri: { path: 'LibriSpeech', format: 'librispeech', train: ['train-clean-100'], test: ['test-other'] },
    });
    const libri = loadDataset(config, 'libri');
    expect(libri.splitMethod).toBe('val_fraction');
    expect(libri.splits.map((s) => s.name)).toEqual(['train-clean-100', 'validation', 'test-other']);
    const error = thrown(() => splitsNamed(libri, 'test-clean'));
    expect(error.code).toBe('E_INVALID_ARGUMENT');
    expect(error.message).toContain('Its splits: train, validation, test, train-clean-100, test-other.');
  });

  it('Common Voice: train/dev/test.tsv by default, clips/ holding the mp3s, sentences normalised', () => {
    const cv = loadDataset(configWith({ cv: { path: 'cv' } }), 'cv');
    expect(cv.format).toBe('commonvoice');
    expect(cv.splits.map((s) => [s.name, s.role, s.utterances.length])).toEqual([
      ['train', 'train', 4],
      ['dev', 'validation', 1],
      ['test', 'test', 1],
    ]);
    expect(cv.train[1]).toEqual({
      id: 'common_voice_en_train_1',
      wav_path: path.join(dir, 'cv/clips/common_voice_en_train_1.mp3'),
      text: clips[1].text,
    });
  });

  it('NeMo: lines with offset and duration are stretches of one file, its path relative to the manifest', () => {
    const config = configWith({
      mine: { format: 'nemo', train: ['manifests/train.json'], validation: ['manifests/dev.json'] },
    });
    const nemo = loadDataset(config, 'mine');
    expect(nemo.splits.map((s) => [s.name, s.role, s.utterances.length])).toEqual([
      ['train', 'train', 4],
      ['dev', 'validation', 1],
    ]);
    expect(nemo.val[0]).toEqual({
      id: `../long/session@${placements[4].offset}`,
      wav_path: path.join(dir, 'long/session.wav'),
      text: clips[4].text,
      offset: placements[4].offset,
      duration: placements[4].duration,
    });
  });

  it('Kaldi: segments cut the recording of wav.scp; text gives the transcripts', () => {
    const kaldi = loadDataset(configWith({ old: { path: 'kaldi/train', val_fraction: 0 } }), 'old');
    expect(kaldi.format).toBe('kaldi');
    expect(kaldi.train).toHaveLength(4);
    expect(kaldi.train[2]).toMatchObject({
      id: 'spk1-utt2',
      wav_path: path.join(dir, 'long/session.wav'),
      text: clips[2].text,
      offset: Number(placements[2].offset.toFixed(6)),
    });
  });

  it('combine: one training set of each dataset, ids kept apart by the dataset name, tests named by it', () => {
    const config = configWith({
      libri: { path: 'LibriSpeech' },
      mine: { format: 'nemo', train: ['manifests/train.json'], validation: ['manifests/dev.json'] },
      both: { combine: ['libri', 'mine'] },
    });
    const both = loadDataset(config, 'both');
    expect(both.format).toBe('combined');
    expect(both.train).toHaveLength(8);
    expect(both.val).toHaveLength(2);
    expect(both.train[0].id).toBe('libri/100-2000-0000');
    expect(both.splits.filter((s) => s.role === 'test').map((s) => s.name)).toEqual([
      'libri/test-clean',
      'libri/test-other',
    ]);
  });

  it('the addon cuts NeMo offsets and Kaldi segments to the frames of the clip each came from', async () => {
    const native = loadNative();
    const whole = await native.FeatureStore.open(
      clips.map((clip, i) => ({ id: `clip-${i}`, wav_path: clip.wav, text: clip.text })),
      { cache_dir: '' },
    );
    const config = configWith({
      mine: { format: 'nemo', train: ['manifests/train.json'], test: ['manifests/test.json'], val_fraction: 0 },
      old: { format: 'kaldi', train: ['kaldi/train'], validation: ['kaldi/dev'] },
    });
    for (const name of ['mine', 'old']) {
      const cut = loadDataset(config, name).splits.flatMap((split) => split.utterances);
      const store = await native.FeatureStore.open(cut, { cache_dir: path.join(dir, 'cache'), cache_name: name });
      expect(store.skipped).toEqual([]);
      const frames = store.ids().map((_, i) => store.frames(i));
      const clipOf = (offset = -1) => placements.findIndex((p) => Math.abs(p.offset - offset) < 1e-5);
      expect(frames).toEqual(cut.map((u) => whole.frames(clipOf(u.offset))));
    }
  });

  it('the addon reads wav, flac, mp3, ogg/vorbis and opus at their own rates', async () => {
    const native = loadNative();
    const files = {
      wav: clips[0].wav,
      flac: path.join(dir, 'LibriSpeech/train-clean-100/100/2000/100-2000-0000.flac'),
      mp3: path.join(dir, 'cv/clips/common_voice_en_train_0.mp3'),
      ogg: path.join(dir, 'codecs/clip.ogg'),
      opus: path.join(dir, 'codecs/clip.opus'),
    };
    const store = await native.FeatureStore.open(
      Object.entries(files).map(([codec, file]) => ({ id: codec, wav_path: file, text: clips[0].text })),
      { cache_dir: '' },
    );
    expect(store.skipped).toEqual([]);
    const frames = Object.keys(files).map((_, i) => store.frames(i));
    // Lossy encoders pad the start and end a little (mp3 most, ~50 ms): the same clip within 10 frames.
    for (const n of frames) expect(Math.abs(n - frames[0])).toBeLessThanOrEqual(10);
  });

  it('an empty transcript and a repeated id are skipped with the reason; the rest loads', () => {
    writeFileSync(
      path.join(dir, 'manifests', 'flawed.json'),
      [
        JSON.stringify({ audio_filepath: '../spoken/clip-0.wav', text: 'go left', duration: 1 }),
        JSON.stringify({ audio_filepath: '../spoken/clip-1.wav', text: '!!', duration: 1 }),
        JSON.stringify({ audio_filepath: '../spoken/clip-0.wav', text: 'again', duration: 1 }),
        JSON.stringify({ audio_filepath: '../spoken/clip-2.wav', text: 'red one', duration: 1 }),
      ].join('\n'),
    );
    const flawed = loadDataset(configWith({ f: { path: 'manifests/flawed.json', val_fraction: 0 } }), 'f');
    expect(ids(flawed.train)).toEqual(['../spoken/clip-0', '../spoken/clip-2']);
    expect(flawed.skipped).toEqual([
      { id: '../spoken/clip-1', reason: 'no usable characters in the transcript' },
      { id: '../spoken/clip-0', reason: 'duplicate id (first in flawed)' },
    ]);
    expect(flawed.counts.total).toBe(4);

    writeFileSync(path.join(dir, 'manifests', 'silent.json'), JSON.stringify({ audio_filepath: 'a.wav', text: '?' }));
    const config = configWith({
      s: { format: 'nemo', train: ['manifests/flawed.json'], test: ['manifests/silent.json'] },
    });
    const empty = thrown(() => loadDataset(config, 's'));
    expect(empty.code).toBe('E_DATASET_INVALID');
    expect(empty.message).toContain("Split 'silent' (test) of dataset 's' has no usable utterance");
  });

  it('a malformed manifest line fails with its file and line number and the fix', () => {
    const file = path.join(dir, 'manifests', 'broken.json');
    writeFileSync(
      file,
      `${JSON.stringify({ audio_filepath: 'a.wav', text: 'a' })}\n{"audio_filepath": "b.wav", text}\n`,
    );
    const error = thrown(() => loadDataset(configWith({ b: { path: 'manifests/broken.json' } }), 'b'));
    expect(error.code).toBe('E_DATASET_INVALID');
    expect(error.message).toMatch(new RegExp(`^${file}:2: not JSON .*Each line is one JSON object`));
    expect(error.details).toMatchObject({ file, line: 2 });

    const tsv = path.join(dir, 'cv-broken.tsv');
    writeFileSync(tsv, 'client_id\tsentence\nx\thello\n');
    const noPath = thrown(() => loadDataset(configWith({ c: { path: 'cv-broken.tsv' } }), 'c'));
    expect(noPath.message).toContain(`${tsv}:1: the header row lacks the column path`);

    const kaldi = path.join(dir, 'kaldi-pipe');
    mkdirSync(kaldi);
    writeFileSync(path.join(kaldi, 'wav.scp'), 'rec1 sph2pipe -f wav rec1.sph |\n');
    writeFileSync(path.join(kaldi, 'text'), 'rec1 hello\n');
    const pipe = thrown(() => loadDataset(configWith({ k: { path: 'kaldi-pipe' } }), 'k'));
    expect(pipe.message).toContain(`${path.join(kaldi, 'wav.scp')}:1: a pipe command`);
  });

  it('a missing listed source names the file; an undetectable folder asks for the format', () => {
    const missing = thrown(() =>
      assertDatasetPresent(configWith({ m: { format: 'nemo', train: ['manifests/nope.json'] } }), 'm'),
    );
    expect(missing.code).toBe('E_DATASET_NOT_FOUND');
    expect(missing.message).toContain(`${path.join(dir, 'manifests/nope.json')} does not exist`);

    mkdirSync(path.join(dir, 'unknown-layout', 'x'), { recursive: true });
    writeFileSync(path.join(dir, 'unknown-layout', 'x', 'a.txt'), 'x');
    const unknown = thrown(() => loadDataset(configWith({ u: { path: 'unknown-layout', train: ['x'] } }), 'u'));
    expect(unknown.code).toBe('E_DATASET_INVALID');
    expect(unknown.message).toContain(
      'set datasets.u.format to one of ljspeech, librispeech, commonvoice, nemo, kaldi',
    );
  });

  it('the config refuses an unknown format and a combine of unknown names or with its own sources', () => {
    const error = thrown(() =>
      configWith({
        a: { path: 'x', format: 'timit' },
        b: { combine: ['a', 'zz'] },
        c: { combine: ['a', 'b'], path: 'y' },
      }),
    );
    expect(error.code).toBe('E_CONFIG_INVALID');
    expect(error.message).toContain(
      'datasets.a.format: must be one of ljspeech, librispeech, commonvoice, nemo, kaldi',
    );
    expect(error.message).toContain('datasets.b.combine: names zz, which is not a dataset');
    expect(error.message).toContain('datasets.c.path: not with combine');
    expect(error.message).toContain('datasets.c.combine: names b, itself a combination');
  });
});
