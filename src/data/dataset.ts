/**
 * A configured dataset (any format, or a combination) → the utterance lists the native FeatureStore opens:
 * normalised transcripts, training and validation (listed, or drawn from training by a seeded hash as
 * LJSpeech always was), the named test splits, and the lightweight/limit cuts. Audio is not touched here
 * (the FeatureStore reads it and skips what it cannot use).
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CorpusFormat } from '../contract/datasets.js';
import { SPLIT_ROLES } from '../contract/datasets.js';
import type { AsrConfig, DatasetConfig } from '../config/schema.js';
import { AsrTrainerError } from '../errors.js';
import type { Log } from '../log.js';
import type { UtteranceSpec } from '../native/types.js';
import { detectFormat } from './formats/index.js';
import { LJSPEECH_METADATA } from './formats/ljspeech.js';
import {
  missingSource,
  readNamedSplits,
  type CorpusSplits,
  type NamedSplit,
  type SkippedUtterance,
} from './named-splits.js';
import { limitDeterministically, readIdList, validationIdsByFraction } from './split.js';
import { describeDroppedCharacters, DroppedCharacterCounter, type DroppedCharacterStats } from './text.js';

export type { UtteranceSpec } from '../native/types.js';
export type { NamedSplit, SkippedUtterance } from './named-splits.js';

export interface LoadDatasetOptions {
  /** Cut the training set to at most this many utterances (the API's `limit_samples`). */
  limitSamples?: number;
  /** Cut the training set (and the validation set) to `training.lightweight_samples`. */
  lightweight?: boolean;
  /** Split and limit seed (default `training.seed`). */
  seed?: number;
  /** Receives the one summary line of dropped characters, when any were dropped. */
  log?: Log;
}

export interface DatasetSplit {
  name: string;
  /** The corpus format, or 'combined' for a `combine` entry. */
  format: CorpusFormat | 'combined';
  train: UtteranceSpec[];
  val: UtteranceSpec[];
  /** Every named split with its usable utterances, before the limits: what `evaluate --split` picks from. */
  splits: NamedSplit[];
  /** Utterances left out before any audio is read: no usable character, a repeated id, no audio listed. */
  skipped: SkippedUtterance[];
  droppedCharacters: DroppedCharacterStats;
  splitMethod: 'val_list' | 'val_fraction' | 'listed';
  counts: {
    /** Utterances the sources list. */
    total: number;
    /** Training utterances before limit_samples / lightweight. */
    trainAvailable: number;
    train: number;
    val: number;
    skipped: number;
  };
  /** From `datasets.<name>.max_skipped_fraction`, for `checkSkippedShare`. */
  maxSkippedFraction: number;
}

/** Loads, normalises, splits and cuts dataset `name` of `config`. */
export function loadDataset(
  config: Pick<AsrConfig, 'datasets' | 'training'>,
  name: string,
  options: LoadDatasetOptions = {},
): DatasetSplit {
  const dataset = datasetEntry(config, name);
  assertDatasetPresent(config, name);
  const seed = options.seed ?? config.training.seed;
  const dropped = new DroppedCharacterCounter();
  const members = dataset.combine ?? [name];
  const parts = members.map((member) => {
    const entry = datasetEntry(config, member);
    const splits = withValidation(member, entry, readNamedSplits(member, entry, dropped), seed);
    // A combination's sources may reuse ids (every corpus has its utt-0001): the member's name keeps them apart.
    return dataset.combine ? prefixed(member, splits) : splits;
  });
  const splits = parts.flatMap((part) => part.splits);
  const skipped = parts.flatMap((part) => part.skipped);
  const ofRole = (role: NamedSplit['role']) => splits.filter((s) => s.role === role).flatMap((s) => s.utterances);
  const trainAvailable = ofRole('train');
  let val = ofRole('validation');
  if (trainAvailable.length === 0) {
    throw new AsrTrainerError(
      'E_DATASET_INVALID',
      `Dataset '${name}' has no training utterances left after the validation split (${val.length} for validation, ${skipped.length} skipped${skipped.length > 0 ? `, first: ${skipped[0].id}: ${skipped[0].reason}` : ''}).`,
      { dataset_name: name },
    );
  }

  let limit = Infinity;
  if (options.limitSamples !== undefined && options.limitSamples > 0) limit = options.limitSamples;
  if (options.lightweight) {
    limit = Math.min(limit, config.training.lightweight_samples);
    // Validating on thousands of utterances would take longer than the light training it checks.
    val = limitDeterministically(val, config.training.lightweight_samples, seed);
  }
  const train = limitDeterministically(trainAvailable, limit, seed);

  const droppedCharacters = dropped.toJSON();
  if (droppedCharacters.total > 0) {
    options.log?.('info', `Dataset ${name}: ${describeDroppedCharacters(droppedCharacters)}`);
  }
  const methods = parts.map((part) => part.splitMethod);
  return {
    name,
    format: dataset.combine ? 'combined' : parts[0].format,
    train,
    val,
    splits,
    skipped,
    droppedCharacters,
    splitMethod: methods.every((m) => m === methods[0]) ? methods[0] : 'listed',
    counts: {
      total: parts.reduce((sum, part) => sum + part.total, 0),
      trainAvailable: trainAvailable.length,
      train: train.length,
      val: val.length,
      skipped: skipped.length,
    },
    maxSkippedFraction: dataset.max_skipped_fraction,
  };
}

type SplitsWithValidation = CorpusSplits & { splitMethod: DatasetSplit['splitMethod'] };

/**
 * The splits with validation in place: as listed, or drawn from training by val_list or val_fraction. The
 * draw is over every training id, usable or not, so fixing one transcript never moves others.
 */
function withValidation(name: string, entry: DatasetConfig, corpus: CorpusSplits, seed: number): SplitsWithValidation {
  if (corpus.validationListed) return assertNoEmptySource(name, { ...corpus, splitMethod: 'listed' });
  let valIds: Set<string>;
  if (entry.val_list !== undefined) {
    valIds = new Set(readIdList(entry.val_list));
    const known = new Set(corpus.trainIds);
    const unknown = [...valIds].filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new AsrTrainerError(
        'E_DATASET_INVALID',
        `${entry.val_list} lists ${unknown.length} ids that dataset '${name}' does not have (first: ${unknown.slice(0, 5).join(', ')}). Regenerate the list or fix datasets.${name}.val_list.`,
        { file: entry.val_list, unknown: unknown.slice(0, 20) },
      );
    }
  } else {
    valIds = validationIdsByFraction(corpus.trainIds, entry.val_fraction, seed);
  }
  const drawn: NamedSplit = { name: 'validation', role: 'validation', utterances: [] };
  const splits = corpus.splits.map((split) => {
    if (split.role !== 'train') return split;
    drawn.utterances.push(...split.utterances.filter((u) => valIds.has(u.id)));
    return { ...split, utterances: split.utterances.filter((u) => !valIds.has(u.id)) };
  });
  const firstTest = splits.findIndex((split) => split.role === 'test');
  splits.splice(firstTest < 0 ? splits.length : firstTest, 0, drawn);
  const sources = { ...corpus, splits: splits.filter((split) => split !== drawn) };
  assertNoEmptySource(name, { ...sources, splitMethod: 'listed' });
  return { ...corpus, splits, splitMethod: entry.val_list !== undefined ? 'val_list' : 'val_fraction' };
}

/** A source left with no usable utterance fails: training on it or scoring it would mean nothing. */
function assertNoEmptySource(name: string, corpus: SplitsWithValidation): SplitsWithValidation {
  const empty = corpus.splits.find((split) => split.utterances.length === 0);
  if (empty === undefined) return corpus;
  const first = corpus.skipped[0];
  throw new AsrTrainerError(
    'E_DATASET_INVALID',
    `Split '${empty.name}' (${empty.role}) of dataset '${name}' has no usable utterance${first ? ` (${corpus.skipped.length} left out, first: ${first.id}: ${first.reason})` : ''}: fix its transcripts or remove it from datasets.${name}.${empty.role}.`,
    { dataset_name: name, split: empty.name },
  );
}

function prefixed(member: string, corpus: SplitsWithValidation): SplitsWithValidation {
  return {
    ...corpus,
    splits: corpus.splits.map((split) => ({
      ...split,
      name: `${member}/${split.name}`,
      utterances: split.utterances.map((u) => ({ ...u, id: `${member}/${u.id}` })),
    })),
    skipped: corpus.skipped.map((s) => ({ ...s, id: `${member}/${s.id}` })),
  };
}

/**
 * The splits `split` names in a loaded dataset: a role (train, validation, test: each split playing it) or
 * one split by name. An unknown name, or a role no split plays, fails with E_INVALID_ARGUMENT listing the
 * known ones.
 */
export function splitsNamed(dataset: DatasetSplit, split: string): NamedSplit[] {
  const chosen = (SPLIT_ROLES as readonly string[]).includes(split)
    ? dataset.splits.filter((s) => s.role === split)
    : dataset.splits.filter((s) => s.name === split);
  if (chosen.length === 0) {
    const known = [...new Set([...dataset.splits.map((s) => s.role), ...dataset.splits.map((s) => s.name)])];
    throw new AsrTrainerError(
      'E_INVALID_ARGUMENT',
      `Dataset '${dataset.name}' has no split '${split}'. Its splits: ${known.join(', ')}.`,
      { dataset_name: dataset.name, split, known },
    );
  }
  return chosen;
}

/**
 * Reads dataset `name`'s manifests without touching audio, so a start fails at once (4xx) for what the
 * caller must fix: a missing source, an unknown format, a malformed line, a split left empty.
 */
export function checkDatasetReadable(config: Pick<AsrConfig, 'datasets' | 'training'>, name: string): void {
  loadDataset(config, name);
}

/** The config entry of dataset `name`; an unknown name fails with the configured ones listed. */
export function datasetEntry(config: Pick<AsrConfig, 'datasets'>, name: string): AsrConfig['datasets'][string] {
  const entry = Object.hasOwn(config.datasets, name) ? config.datasets[name] : undefined;
  if (!entry) {
    const known = Object.keys(config.datasets);
    throw new AsrTrainerError(
      'E_UNKNOWN_DATASET',
      `Unknown dataset '${name}'. Configured datasets: ${known.join(', ') || '(none)'}`,
      { dataset_name: name, known },
    );
  }
  return entry;
}

export interface DatasetAvailability {
  name: string;
  path: string;
  /** The folder and its metadata.csv exist. */
  available: boolean;
  /** When not available: what is missing and how to get it. */
  problem?: string;
}

/** Whether dataset `name` is on disk, without reading it (for listings such as GET /api/datasets). */
export function datasetAvailability(config: Pick<AsrConfig, 'datasets'>, name: string): DatasetAvailability {
  const entry = datasetEntry(config, name);
  const where = entry.path ?? entry.train?.[0] ?? (entry.combine ?? []).join(' + ');
  try {
    assertDatasetPresent(config, name);
    return { name, path: where, available: true };
  } catch (error) {
    return { name, path: where, available: false, problem: (error as Error).message };
  }
}

/**
 * Throws E_DATASET_NOT_FOUND when the corpus folder, its metadata.csv (LJSpeech) or a listed source is
 * missing (for a combination: any member's); the message names the path, lists the configured datasets and
 * says how to get this one. E_DATASET_INVALID when the format cannot be told.
 */
export function assertDatasetPresent(config: Pick<AsrConfig, 'datasets'>, name: string): void {
  const entry = datasetEntry(config, name);
  if (entry.combine !== undefined) {
    for (const member of entry.combine) assertDatasetPresent(config, member);
    return;
  }
  const root = entry.path;
  let missing: string | undefined;
  let fix = `Check datasets.${name}'s train, validation and test lists: each names a ${entry.format ?? 'corpus'} source.`;
  if (root !== undefined && !existsSync(root)) {
    missing = `the folder ${root} does not exist`;
    fix = howToGet(name, root);
  } else if (root !== undefined && isDirectory(root) && ljspeechOrUndetected(entry, root)) {
    const metadataPath = path.join(root, LJSPEECH_METADATA);
    if (!existsSync(metadataPath)) missing = `${metadataPath} does not exist`;
    fix = howToGet(name, root);
  }
  missing ??= missingSource(name, entry)?.concat(' does not exist');
  if (!missing) return;
  const known = Object.keys(config.datasets);
  throw new AsrTrainerError(
    'E_DATASET_NOT_FOUND',
    `Dataset '${name}' not found: ${missing}. ${fix} Configured datasets: ${known.join(', ')}.`,
    { dataset_name: name, path: root ?? null, known },
  );
}

/** An LJSpeech folder, or a folder with no lists whose format nothing gives away (LJSpeech, the default). */
function ljspeechOrUndetected(entry: DatasetConfig, root: string): boolean {
  const listed = entry.train !== undefined || entry.validation !== undefined || entry.test !== undefined;
  return (entry.format ?? detectFormat(root) ?? (listed ? undefined : 'ljspeech')) === 'ljspeech';
}

function howToGet(name: string, root: string): string {
  if (name === 'ljspeech' || path.basename(root) === 'LJSpeech-1.1') {
    return (
      'LJSpeech-1.1 (2.6 GB) is not bundled: on a machine with internet run ' +
      `\`bash scripts/download-ljspeech.sh ${path.dirname(root)}\` (downloads, checks its sha256 and unpacks it there), ` +
      `or point datasets.${name}.path at an existing copy.`
    );
  }
  if (name === 'mini-ljspeech' || path.basename(root) === 'mini-ljspeech') {
    return `Generate it with \`npm run setup\` or \`npx tsx scripts/make-mini-corpus.ts --out ${root}\` (espeak-ng, under a minute).`;
  }
  return (
    `Check datasets.${name}.path in the config: it must hold a corpus in one of the formats (README "Your corpus"): ` +
    'ljspeech (metadata.csv, wavs/), librispeech (train-clean-100/, ...), commonvoice (train.tsv, clips/), ' +
    'nemo (a JSON-lines manifest), kaldi (wav.scp, text); set datasets.<name>.format when it is not detected.'
  );
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
