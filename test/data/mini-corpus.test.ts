import { execFile } from 'node:child_process';
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
} from '../../src/data/index.js';

const run = promisify(execFile);
const repoRoot = path.resolve(__dirname, '../..');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'asr-mini-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

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

describe('scripts/make-mini-corpus.ts', () => {
  it('writes a 20-clip LJSpeech-layout corpus of 22050 Hz 16-bit mono WAVs, deterministic from the seed', async () => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    const script = path.join(repoRoot, 'scripts/make-mini-corpus.ts');
    const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');
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
