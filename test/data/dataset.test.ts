import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig, type AsrConfig } from '../../src/config/index.js';
import {
  assertDatasetPresent,
  checkSkippedShare,
  datasetAvailability,
  limitDeterministically,
  loadDataset,
  parseMetadata,
  validationIdsByFraction,
} from '../../src/data/index.js';
import { thrown } from '../helpers/thrown.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'asr-data-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A config whose datasets live under the temp dir; `datasets` as a YAML-like object. */
function configWith(datasets: Record<string, unknown>, training: Record<string, unknown> = {}): AsrConfig {
  return parseConfig({ datasets, training }, { baseDir: dir, env: {} });
}

/** An LJSpeech-layout folder with `lines` as metadata.csv (wavs/ left empty: audio is the FeatureStore's part). */
function writeDataset(name: string, lines: string[]): string {
  const root = path.join(dir, name);
  mkdirSync(path.join(root, 'wavs'), { recursive: true });
  writeFileSync(path.join(root, 'metadata.csv'), `${lines.join('\n')}\n`);
  return root;
}

function numberedLines(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const id = `LJ001-${String(i + 1).padStart(4, '0')}`;
    return `${id}|Sentence ${i + 1}.|sentence number ${'abcdefghij'[i % 10]} here`;
  });
}

describe('metadata.csv parsing', () => {
  it('keeps double quotes as text: no CSV quoting', () => {
    const [entry] = parseMetadata('LJ001-0001|He said "no."|He said "no," twice\n', 'm.csv');
    expect(entry).toEqual({ id: 'LJ001-0001', transcript: 'He said "no," twice', line: 1 });
  });

  it('a quote opened and never closed does not swallow the following lines', () => {
    const entries = parseMetadata('A1|"open|"open quote\nA2|next|next line\n', 'm.csv');
    expect(entries.map((e) => e.transcript)).toEqual(['"open quote', 'next line']);
  });

  it('falls back to the second column when the third is empty or missing', () => {
    const entries = parseMetadata('A1|Raw text|\nA2|Only two fields\n', 'm.csv');
    expect(entries.map((e) => e.transcript)).toEqual(['Raw text', 'Only two fields']);
  });

  it('skips blank lines, a BOM and CR line ends, and keeps the real line numbers', () => {
    const entries = parseMetadata('\uFEFFA1|x|one\r\n\r\nA2|y|two\r\n', 'm.csv');
    expect(entries).toEqual([
      { id: 'A1', transcript: 'one', line: 1 },
      { id: 'A2', transcript: 'two', line: 3 },
    ]);
  });

  it('a line with an extra pipe fails with file:line', () => {
    const error = thrown(() => parseMetadata('A1|a|a\nA2|b|b|extra\n', '/d/metadata.csv'));
    expect(error.code).toBe('E_DATASET_INVALID');
    expect(error.message).toMatch(
      /^\/d\/metadata\.csv:2: expected ID\|Transcription\|Normalized Transcription .* found 4/,
    );
  });

  it('a line without a pipe, an empty id, a path-like id, no text and a repeated id each fail with file:line', () => {
    expect(thrown(() => parseMetadata('A1|a|a\njust text\n', 'm.csv')).message).toMatch(/^m\.csv:2: .*found 1/);
    expect(thrown(() => parseMetadata('|a|a\n', 'm.csv')).message).toMatch(
      /^m\.csv:1: the ID \(first field\) is empty/,
    );
    expect(thrown(() => parseMetadata('../x|a|a\n', 'm.csv')).message).toMatch(
      /^m\.csv:1: the ID "\.\.\/x" may hold only/,
    );
    expect(thrown(() => parseMetadata('A1| | \n', 'm.csv')).message).toMatch(
      /^m\.csv:1: utterance A1 has no transcription/,
    );
    expect(thrown(() => parseMetadata('A1|a|a\nA2|b|b\nA1|c|c\n', 'm.csv')).message).toMatch(
      /^m\.csv:3: the ID A1 already appeared on line 1/,
    );
  });
});

describe('missing datasets', () => {
  it('a missing ljspeech folder names the path, the download script and the configured datasets', () => {
    const config = configWith({ ljspeech: { path: 'data/LJSpeech-1.1' }, mine: { path: 'mine' } });
    const error = thrown(() => loadDataset(config, 'ljspeech'));
    expect(error.code).toBe('E_DATASET_NOT_FOUND');
    expect(error.message).toContain(`the folder ${path.join(dir, 'data/LJSpeech-1.1')} does not exist`);
    expect(error.message).toContain(`bash scripts/download-ljspeech.sh ${path.join(dir, 'data')}`);
    expect(error.message).toContain('Configured datasets: ljspeech, mine.');
  });

  it('a folder without metadata.csv names the file; the mini corpus says how to generate it', () => {
    mkdirSync(path.join(dir, 'data/mini-ljspeech'), { recursive: true });
    const config = configWith({ 'mini-ljspeech': { path: 'data/mini-ljspeech' } });
    const error = thrown(() => assertDatasetPresent(config, 'mini-ljspeech'));
    expect(error.code).toBe('E_DATASET_NOT_FOUND');
    expect(error.message).toContain(`${path.join(dir, 'data/mini-ljspeech/metadata.csv')} does not exist`);
    expect(error.message).toContain('npx tsx scripts/make-mini-corpus.ts --out');
    expect(datasetAvailability(config, 'mini-ljspeech')).toMatchObject({ available: false, problem: error.message });
  });

  it('an unknown dataset name lists the configured ones', () => {
    const error = thrown(() => loadDataset(configWith({ a: { path: 'a' }, b: { path: 'b' } }), 'c'));
    expect(error.code).toBe('E_UNKNOWN_DATASET');
    expect(error.message).toBe("Unknown dataset 'c'. Configured datasets: a, b");
  });
});

describe('loadDataset', () => {
  it('gives utterance specs with absolute wav paths and normalised text, and logs dropped characters once', () => {
    const root = writeDataset('tiny', [
      'LJ001-0001|Printing, in the only sense|Printing, in the only sense',
      'LJ001-0002|in 1450|in fourteen fifty!',
      'LJ001-0003|"Quoted"|"Quoted" - text',
      'LJ001-0004|1843|1843',
    ]);
    const logs: string[] = [];
    const split = loadDataset(configWith({ tiny: { path: 'tiny', val_fraction: 0 } }), 'tiny', {
      log: (level, message) => logs.push(`${level}: ${message}`),
    });
    expect(split.train).toEqual([
      { id: 'LJ001-0001', wav_path: path.join(root, 'wavs/LJ001-0001.wav'), text: 'printing in the only sense' },
      { id: 'LJ001-0002', wav_path: path.join(root, 'wavs/LJ001-0002.wav'), text: 'in fourteen fifty' },
      { id: 'LJ001-0003', wav_path: path.join(root, 'wavs/LJ001-0003.wav'), text: 'quoted text' },
    ]);
    expect(split.skipped).toEqual([{ id: 'LJ001-0004', reason: 'no usable characters in the transcript' }]);
    expect(split.droppedCharacters).toEqual({
      total: 9,
      transcripts: 4,
      characters: { '"': 2, ',': 1, '-': 1, '!': 1, '1': 1, '3': 1, '4': 1, '8': 1 },
    });
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^info: Dataset tiny: 9 characters .* dropped in 4 transcripts: /);
    expect(split.counts).toEqual({ total: 4, trainAvailable: 3, train: 3, val: 0, skipped: 1 });
  });

  it('the fraction split is deterministic, disjoint, sized by val_fraction and changes with the seed', () => {
    writeDataset('d', numberedLines(200));
    const config = configWith({ d: { path: 'd', val_fraction: 0.1 } });
    const a = loadDataset(config, 'd');
    const b = loadDataset(config, 'd');
    expect(a.val.map((u) => u.id)).toEqual(b.val.map((u) => u.id));
    expect(a.val).toHaveLength(20);
    expect(a.train).toHaveLength(180);
    const trainIds = new Set(a.train.map((u) => u.id));
    expect(a.val.filter((u) => trainIds.has(u.id))).toEqual([]);
    const other = loadDataset(config, 'd', { seed: 7 });
    expect(other.val.map((u) => u.id)).not.toEqual(a.val.map((u) => u.id));
    expect(a.splitMethod).toBe('val_fraction');
  });

  it('the fraction split of an id does not depend on file order or on other ids', () => {
    const ids = numberedLines(300).map((line) => line.split('|')[0]);
    const forward = validationIdsByFraction(ids, 0.05, 3);
    const backward = validationIdsByFraction([...ids].reverse(), 0.05, 3);
    expect([...forward].sort()).toEqual([...backward].sort());
    expect(forward.size).toBe(15);
  });

  it('a val_list file decides the split; ids it names never reach training', () => {
    writeDataset('d', numberedLines(10));
    writeFileSync(path.join(dir, 'val.txt'), '# held out\nLJ001-0002\n\nLJ001-0007  \n');
    const split = loadDataset(configWith({ d: { path: 'd', val_list: 'val.txt' } }), 'd');
    expect(split.val.map((u) => u.id)).toEqual(['LJ001-0002', 'LJ001-0007']);
    expect(split.train.map((u) => u.id)).not.toContain('LJ001-0002');
    expect(split.train).toHaveLength(8);
    expect(split.splitMethod).toBe('val_list');
  });

  it('a val_list naming ids the metadata lacks, or a missing val_list, is an error naming the file', () => {
    writeDataset('d', numberedLines(5));
    writeFileSync(path.join(dir, 'val.txt'), 'LJ001-0001\nLJ009-9999\n');
    const unknown = thrown(() => loadDataset(configWith({ d: { path: 'd', val_list: 'val.txt' } }), 'd'));
    expect(unknown.code).toBe('E_DATASET_INVALID');
    expect(unknown.message).toContain(`${path.join(dir, 'val.txt')} lists 1 ids`);
    expect(unknown.message).toContain('LJ009-9999');
    const missing = thrown(() => loadDataset(configWith({ d: { path: 'd', val_list: 'nope.txt' } }), 'd'));
    expect(missing.message).toContain(`Cannot read the validation list ${path.join(dir, 'nope.txt')}`);
  });

  it('limit_samples cuts the training set deterministically, to nested subsets, and leaves validation alone', () => {
    writeDataset('d', numberedLines(100));
    const config = configWith({ d: { path: 'd', val_fraction: 0.1 } });
    const full = loadDataset(config, 'd');
    const ten = loadDataset(config, 'd', { limitSamples: 10 });
    const twenty = loadDataset(config, 'd', { limitSamples: 20 });
    expect(ten.train).toHaveLength(10);
    expect(loadDataset(config, 'd', { limitSamples: 10 }).train).toEqual(ten.train);
    const twentyIds = new Set(twenty.train.map((u) => u.id));
    expect(ten.train.every((u) => twentyIds.has(u.id))).toBe(true);
    expect(ten.val).toEqual(full.val);
    expect(ten.counts.trainAvailable).toBe(90);
    // the subset keeps metadata order
    const order = full.train.map((u) => u.id);
    expect(ten.train.map((u) => order.indexOf(u.id))).toEqual(
      [...ten.train.map((u) => order.indexOf(u.id))].sort((a, b) => a - b),
    );
  });

  it('lightweight cuts training (and validation) to training.lightweight_samples; limit_samples can cut further', () => {
    writeDataset('d', numberedLines(100));
    const config = configWith({ d: { path: 'd', val_fraction: 0.2 } }, { lightweight_samples: 8 });
    const light = loadDataset(config, 'd', { lightweight: true });
    expect(light.train).toHaveLength(8);
    expect(light.val).toHaveLength(8);
    expect(loadDataset(config, 'd', { lightweight: true, limitSamples: 3 }).train).toHaveLength(3);
    expect(loadDataset(config, 'd', { lightweight: true, limitSamples: 50 }).train).toHaveLength(8);
  });

  it('limitDeterministically returns everything when the limit is not below the size', () => {
    const items = [{ id: 'a' }, { id: 'b' }];
    expect(limitDeterministically(items, 5, 0)).toEqual(items);
  });
});

describe('checkSkippedShare', () => {
  const skipped = [
    { id: 'A', reason: 'unreadable audio' },
    { id: 'B', reason: 'unreadable audio' },
    { id: 'C', reason: 'too short for its transcript' },
  ];

  it('up to the limit: a warning naming the ids and reasons', () => {
    const verdict = checkSkippedShare('d', 30, skipped, 0.1);
    expect(verdict.fraction).toBeCloseTo(0.1);
    expect(verdict.warning).toBe(
      "3 of 30 utterances (10.0%) of dataset 'd' skipped (2 unreadable audio; 1 too short for its transcript); first: A, B, C",
    );
    expect(checkSkippedShare('d', 30, [], 0.1)).toEqual({ fraction: 0 });
  });

  it('past the limit: E_DATASET_INVALID naming the setting', () => {
    const error = thrown(() => checkSkippedShare('d', 20, skipped, 0.1));
    expect(error.code).toBe('E_DATASET_INVALID');
    expect(error.message).toContain('more than datasets.d.max_skipped_fraction (0.1)');
  });
});
