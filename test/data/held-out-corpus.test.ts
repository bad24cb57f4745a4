import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateSentence,
  HELD_OUT_SPEAKERS,
  HELD_OUT_VARIANTS,
  makeHeldOutCorpus,
  normalizeTranscript,
  planHeldOutCorpus,
  planMiniCorpus,
  rangeValues,
  readHeldOutUtterances,
  readMetadata,
  readWavInfo,
  SeededRandom,
  TRAINING_SPEAKERS,
  TRAINING_VARIANTS,
} from '../../src/data/index.js';

const run = promisify(execFile);
const repoRoot = path.resolve(__dirname, '../..');
const variantOf = (voice: string) => (voice.includes('+') ? voice.slice(voice.indexOf('+')) : '');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'asr-held-out-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the held-out plan', () => {
  const plan = planHeldOutCorpus(100, 0);

  it('is 100 distinct normalised sentences, deterministic from the seed', () => {
    expect(plan).toHaveLength(100);
    expect(new Set(plan.map((u) => u.spoken)).size).toBe(100);
    for (const u of plan) expect(normalizeTranscript(u.spoken)).toBe(u.spoken);
    expect(planHeldOutCorpus(100, 0)).toEqual(plan);
    expect(planHeldOutCorpus(100, 1)).not.toEqual(plan);
  });

  it('shares no sentence with a training corpus, nor even a sentence the training grammar could make', () => {
    const training = planMiniCorpus(800, 0, 0.1, 5000);
    const trainingTexts = new Set(training.map((u) => u.spoken));
    expect(plan.filter((u) => trainingTexts.has(u.spoken))).toEqual([]);

    // Every held-out sentence has a word the training grammar never says: it cannot occur at any size.
    const random = new SeededRandom(11);
    const grammarWords = new Set<string>();
    for (let i = 0; i < 20_000; i++) for (const w of generateSentence(random).spoken.split(' ')) grammarWords.add(w);
    expect(plan.filter((u) => u.spoken.split(' ').every((w) => grammarWords.has(w))).map((u) => u.spoken)).toEqual([]);
  });

  it('is spoken by voices, rates and pitches training never uses', () => {
    expect(HELD_OUT_VARIANTS.filter((v) => (TRAINING_VARIANTS as readonly string[]).includes(v))).toEqual([]);
    const trainingRates = new Set(rangeValues(TRAINING_SPEAKERS.rates));
    const trainingPitches = new Set(rangeValues(TRAINING_SPEAKERS.pitches));
    expect(rangeValues(HELD_OUT_SPEAKERS.rates).filter((r) => trainingRates.has(r))).toEqual([]);
    expect(rangeValues(HELD_OUT_SPEAKERS.pitches).filter((p) => trainingPitches.has(p))).toEqual([]);

    const training = planMiniCorpus(800, 0, 0.1, 5000);
    const trainingVoices = new Set(training.map((u) => u.voice));
    const trainingVariants = new Set(training.map((u) => variantOf(u.voice)));
    expect(plan.filter((u) => trainingVoices.has(u.voice) || trainingVariants.has(variantOf(u.voice)))).toEqual([]);
    expect(plan.filter((u) => trainingRates.has(u.rate) || trainingPitches.has(u.pitch))).toEqual([]);
    expect(new Set(plan.map((u) => variantOf(u.voice))).size).toBe(HELD_OUT_VARIANTS.length);
  });
});

describe('scripts/make-mini-corpus.ts --held-out', () => {
  it('writes an LJSpeech-shaped folder of 22050 Hz 16-bit mono clips, reused as it is on a second run', async () => {
    const out = path.join(dir, 'held-out');
    const script = path.join(repoRoot, 'scripts/make-mini-corpus.ts');
    const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');
    const first = await run(tsx, [script, '--held-out', out, '--held-out-clips', '6'], { cwd: repoRoot });
    expect(first.stdout).toMatch(/6 held-out clips.*written in/);

    const raw = readFileSync(path.join(out, 'metadata.csv'), 'utf8').trim().split('\n');
    expect(raw.every((line) => line.split('|').length === 3)).toBe(true);
    const entries = readMetadata(path.join(out, 'metadata.csv'));
    expect(entries.map((e) => e.transcript)).toEqual(planHeldOutCorpus(6, 0).map((u) => u.spoken));
    expect(readdirSync(path.join(out, 'wavs')).sort()).toEqual(entries.map((e) => `${e.id}.wav`));
    for (const entry of entries) {
      const info = readWavInfo(path.join(out, 'wavs', `${entry.id}.wav`));
      expect(info).toMatchObject({ audioFormat: 1, sampleRate: 22050, channels: 1, bitsPerSample: 16 });
      expect(info.seconds).toBeGreaterThan(0.8);
    }
    expect(readHeldOutUtterances(out)).toEqual(
      entries.map((e) => ({ id: e.id, wav_path: path.join(out, 'wavs', `${e.id}.wav`), text: e.transcript })),
    );

    const before = statSync(path.join(out, 'metadata.csv')).mtimeMs;
    const again = await makeHeldOutCorpus({ out, clips: 6 });
    expect(again.reused).toBe(true);
    expect(statSync(path.join(out, 'metadata.csv')).mtimeMs).toBe(before);
    expect((await makeHeldOutCorpus({ out, clips: 4 })).reused).toBe(false);
    expect(readdirSync(path.join(out, 'wavs'))).toHaveLength(4);
  });
});
