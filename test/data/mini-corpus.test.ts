import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import {
  generateUniqueSentences,
  loadDataset,
  makeMiniCorpus,
  normalizeTranscript,
  numberToWords,
  planMiniCorpus,
  readMetadata,
  readWavInfo,
  SeededRandom,
  TRAINING_SPEAKERS,
  TRAINING_VARIANTS,
  type MiniCorpusUtterance,
} from '../../src/data/index.js';
import validationFixture from './fixtures/mini-corpus-val.json' with { type: 'json' };

const run = promisify(execFile);
const repoRoot = path.resolve(__dirname, '../..');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'asr-mini-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const script = path.join(repoRoot, 'scripts/make-mini-corpus.ts');
const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');

/** A clip as the fixture records it (less the audio hash). */
function fixtureView(u: MiniCorpusUtterance) {
  return { id: u.id, row: `${u.id}|${u.written}|${u.spoken}`, voice: u.voice, rate: u.rate, pitch: u.pitch };
}

const variantOf = (u: { voice: string }) => (u.voice.includes('+') ? u.voice.slice(u.voice.indexOf('+')) : '');
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function treeBytes(root: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of ['metadata.csv', 'val_ids.txt']) files[name] = readFileSync(path.join(root, name), 'latin1');
  for (const name of readdirSync(path.join(root, 'wavs')).sort()) {
    files[`wavs/${name}`] = readFileSync(path.join(root, 'wavs', name)).toString('base64');
  }
  return files;
}

describe('the sentence grammar', () => {
  it('spells numbers the way they are read', () => {
    expect([1, 7, 13, 20, 21, 40, 99].map(numberToWords)).toEqual([
      'one',
      'seven',
      'thirteen',
      'twenty',
      'twenty one',
      'forty',
      'ninety nine',
    ]);
  });

  it('gives 1000 distinct sentences whose spoken form is already normalised', () => {
    const sentences = generateUniqueSentences(1000, new SeededRandom(5));
    expect(new Set(sentences.map((s) => s.spoken)).size).toBe(1000);
    for (const s of sentences) expect(normalizeTranscript(s.spoken)).toBe(s.spoken);
    expect(sentences.some((s) => /\d/.test(s.written))).toBe(true);
  });

  it('the 800-clip plan varies voices, rates and pitches, and keeps validation sentences out of training', () => {
    const plan = planMiniCorpus(800, 0, 0.1);
    const val = plan.filter((u) => u.split === 'val');
    expect(val).toHaveLength(80);
    const trainTexts = new Set(plan.filter((u) => u.split === 'train').map((u) => u.spoken));
    expect(val.filter((u) => trainTexts.has(u.spoken))).toEqual([]);
    expect(new Set(plan.map((u) => u.voice.split('+')[0])).size).toBeGreaterThanOrEqual(6);
    expect(new Set(plan.map((u) => u.rate)).size).toBeGreaterThan(20);
    expect(new Set(plan.map((u) => u.pitch)).size).toBeGreaterThan(20);
    expect(planMiniCorpus(800, 0, 0.1)).toEqual(plan);
    expect(planMiniCorpus(800, 1, 0.1)).not.toEqual(plan);
  });
});

describe('the validation clips', () => {
  const expected = validationFixture.clips.map(({ id, row, voice, rate, pitch }) => ({ id, row, voice, rate, pitch }));

  it.each([undefined, 10, 720, 3000])(
    'are the ones the generator has always planned (ids, rows, speakers) with %s training clips',
    (trainClips) => {
      const val = planMiniCorpus(800, 0, 0.1, trainClips).filter((u) => u.split === 'val');
      expect(val.map(fixtureView)).toEqual(expected);
    },
  );

  it('are spoken byte for byte as before, beside a training set of another size', async () => {
    const out = path.join(dir, 'val-bytes');
    const result = await makeMiniCorpus({ out, trainClips: 4 });
    expect(result).toMatchObject({ valCount: 80, trainClips: 4, clips: 84 });
    const ids = validationFixture.clips.map((c) => c.id);
    expect(readFileSync(path.join(out, 'val_ids.txt'), 'utf8')).toBe(`${ids.join('\n')}\n`);
    const rows = new Map(
      readFileSync(path.join(out, 'metadata.csv'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => [line.split('|')[0], line]),
    );
    expect(rows.size).toBe(84);
    // The hashes are espeak-ng 1.51's (Debian bookworm/trixie); another espeak-ng may speak other bytes.
    expect(
      validationFixture.clips.map((c) => ({
        row: rows.get(c.id),
        wav_sha256: sha256(path.join(out, 'wavs', `${c.id}.wav`)),
      })),
    ).toEqual(validationFixture.clips.map((c) => ({ row: c.row, wav_sha256: c.wav_sha256 })));
  });
});

describe('the training clips', () => {
  const standard = planMiniCorpus(800, 0, 0.1);
  const train = standard.filter((u) => u.split === 'train');

  it('draw their speakers from the training palette, each clip its own, and vary them widely', () => {
    expect(train).toHaveLength(720);
    const variants = new Set(train.map(variantOf));
    expect([...variants].filter((v) => !(TRAINING_VARIANTS as readonly string[]).includes(v))).toEqual([]);
    for (const u of train) {
      expect(u.rate).toBeGreaterThanOrEqual(TRAINING_SPEAKERS.rates[0][0]);
      expect(u.rate).toBeLessThanOrEqual(TRAINING_SPEAKERS.rates[0][1]);
      expect(u.pitch).toBeGreaterThanOrEqual(TRAINING_SPEAKERS.pitches[0][0]);
      expect(u.pitch).toBeLessThanOrEqual(TRAINING_SPEAKERS.pitches[0][1]);
    }
    expect(variants.size).toBe(TRAINING_VARIANTS.length);
    expect(new Set(train.map((u) => u.voice)).size).toBeGreaterThan(100);
    expect(new Set(train.map((u) => u.rate)).size).toBeGreaterThan(60);
    expect(new Set(train.map((u) => u.pitch)).size).toBeGreaterThan(50);
  });

  it('fewer keeps the first ones, more adds new sentences; no clip changes with the count', () => {
    const few = planMiniCorpus(800, 0, 0.1, 10).filter((u) => u.split === 'train');
    expect(few).toEqual(train.slice(0, 10));

    const many = planMiniCorpus(800, 0, 0.1, 2000);
    const manyTrain = many.filter((u) => u.split === 'train');
    expect(manyTrain).toHaveLength(2000);
    expect(manyTrain.slice(0, 720)).toEqual(train);
    expect(manyTrain[720].id).toBe('MINI-0801');
    expect(new Set(many.map((u) => u.spoken)).size).toBe(many.length);
    expect(planMiniCorpus(800, 0, 0.1, 2000)).toEqual(many);
    expect(planMiniCorpus(800, 1, 0.1, 2000)).not.toEqual(many);
  });
});

describe('scripts/make-mini-corpus.ts', () => {
  it('writes a 20-clip LJSpeech-layout corpus of 22050 Hz 16-bit mono WAVs, deterministic from the seed', async () => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    const first = await run(tsx, [script, '--out', a, '--count', '20', '--seed', '3'], { cwd: repoRoot });
    expect(first.stdout).toMatch(/20 clips \(2 validation\).*written in/);
    await run(tsx, [script, '--out', b, '--count', '20', '--seed', '3', '-q'], { cwd: repoRoot });

    const entries = readMetadata(path.join(a, 'metadata.csv'));
    expect(entries).toHaveLength(20);
    const raw = readFileSync(path.join(a, 'metadata.csv'), 'utf8').trim().split('\n');
    expect(raw.every((line) => line.split('|').length === 3)).toBe(true);
    expect(readdirSync(path.join(a, 'wavs')).sort()).toEqual(entries.map((e) => `${e.id}.wav`).sort());
    let seconds = 0;
    for (const entry of entries) {
      const info = readWavInfo(path.join(a, 'wavs', `${entry.id}.wav`));
      expect(info).toMatchObject({ audioFormat: 1, sampleRate: 22050, channels: 1, bitsPerSample: 16 });
      expect(info.seconds).toBeGreaterThan(0.5);
      seconds += info.seconds;
    }
    expect(seconds / entries.length).toBeGreaterThan(1.2);
    expect(seconds / entries.length).toBeLessThan(3.5);

    expect(treeBytes(b)).toEqual(treeBytes(a));

    // The config's way of reading it: the val list decides the split and no validation text is trained on.
    const config = parseConfig(
      { datasets: { mini: { path: a, val_list: path.join(a, 'val_ids.txt') } } },
      { baseDir: dir, env: {} },
    );
    const split = loadDataset(config, 'mini');
    expect(split.val.map((u) => u.id)).toEqual(readFileSync(path.join(a, 'val_ids.txt'), 'utf8').trim().split('\n'));
    expect(split.train).toHaveLength(18);
    const trainTexts = new Set(split.train.map((u) => u.text));
    expect(split.val.filter((u) => trainTexts.has(u.text))).toEqual([]);
    expect(split.droppedCharacters.total).toBe(0);
  });

  it('--help prints the usage of both corpora', async () => {
    const { stdout } = await run(tsx, [script, '--help'], { cwd: repoRoot });
    expect(stdout).toMatch(/--train-clips 720[\s\S]*--held-out data\/mini-ljspeech-held-out/);
  });

  it('--train-clips sets the training clips; bad options exit 2 naming the option', async () => {
    const out = path.join(dir, 'train-clips');
    const made = await run(tsx, [script, '--out', out, '--count', '20', '--train-clips', '5'], { cwd: repoRoot });
    expect(made.stdout).toMatch(/7 clips \(2 validation\).*written in/);
    const split = readFileSync(path.join(out, 'val_ids.txt'), 'utf8').trim().split('\n');
    expect(readMetadata(path.join(out, 'metadata.csv')).filter((e) => !split.includes(e.id))).toHaveLength(5);

    for (const [args, message] of [
      [['--train-clips', '0'], /--train-clips must be an integer >= 1 \(got "0"\)/],
      [['--train-clips', '2.5'], /--train-clips must be an integer >= 1/],
      [['--held-out-clips', '3'], /--held-out-clips needs --held-out DIR/],
      [['--held-out', out, '--train-clips', '9'], /--held-out writes the held-out set only; drop --train-clips/],
      [['--bogus'], /Unknown option '--bogus'[\s\S]*Usage:/],
    ] as const) {
      const failed = await run(tsx, [script, ...args], { cwd: repoRoot }).then(
        () => null,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failed?.code).toBe(2);
      expect(failed?.stderr).toMatch(message);
    }
  });

  it('a second run on a complete corpus writes nothing; another count regenerates it', async () => {
    const out = path.join(dir, 'again');
    const first = await makeMiniCorpus({ out, count: 6, seed: 1 });
    expect(first.reused).toBe(false);
    const before = statSync(path.join(out, 'metadata.csv')).mtimeMs;
    const second = await makeMiniCorpus({ out, count: 6, seed: 1 });
    expect(second.reused).toBe(true);
    expect(statSync(path.join(out, 'metadata.csv')).mtimeMs).toBe(before);

    rmSync(path.join(out, 'wavs', 'MINI-0003.wav'));
    expect((await makeMiniCorpus({ out, count: 6, seed: 1 })).reused).toBe(false);

    const smaller = await makeMiniCorpus({ out, count: 4, seed: 1 });
    expect(smaller.reused).toBe(false);
    expect(readdirSync(path.join(out, 'wavs')).sort()).toEqual([
      'MINI-0001.wav',
      'MINI-0002.wav',
      'MINI-0003.wav',
      'MINI-0004.wav',
    ]);
  });

  it('a missing espeak-ng binary is an error saying how to install it', async () => {
    await expect(
      makeMiniCorpus({ out: path.join(dir, 'no-espeak'), count: 2, espeak: 'espeak-ng-not-installed' }),
    ).rejects.toThrow(/Cannot run espeak-ng-not-installed: .*apt-get install espeak-ng/);
  });
});
