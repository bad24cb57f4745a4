/**
 * A configured dataset in LJSpeech layout → the utterance lists the native FeatureStore opens: normalised
 * transcripts, a deterministic train/validation split and the lightweight/limit cuts. Audio is not
 * touched here (the FeatureStore reads it and skips what it cannot use).
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { AsrConfig } from '../config/schema.js';
import { AsrTrainerError } from '../errors.js';
import type { Log } from '../log.js';
import type { UtteranceSpec } from '../native/types.js';
import { readMetadata } from './metadata.js';
import { limitDeterministically, readIdList, validationIdsByFraction } from './split.js';
import {
  describeDroppedCharacters,
  DroppedCharacterCounter,
  normalizeTranscript,
  type DroppedCharacterStats,
} from './text.js';

export type { UtteranceSpec } from '../native/types.js';

export const METADATA_FILE = 'metadata.csv';
export const WAVS_FOLDER = 'wavs';

export interface SkippedUtterance {
  id: string;
  reason: string;
}

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
  /** Absolute dataset folder. */
  root: string;
  metadataPath: string;
  train: UtteranceSpec[];
  val: UtteranceSpec[];
  /** Utterances left out before any audio is read: transcripts with no usable character. */
  skipped: SkippedUtterance[];
  droppedCharacters: DroppedCharacterStats;
  splitMethod: 'val_list' | 'val_fraction';
  counts: {
    /** Lines in metadata.csv. */
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
  const root = dataset.path;
  const metadataPath = path.join(root, METADATA_FILE);
  assertDatasetPresent(config, name);
  const seed = options.seed ?? config.training.seed;

  const entries = readMetadata(metadataPath);
  const dropped = new DroppedCharacterCounter();
  const skipped: SkippedUtterance[] = [];
  const usable: UtteranceSpec[] = [];
  for (const entry of entries) {
    const text = normalizeTranscript(entry.transcript, dropped);
    if (text.replaceAll("'", '').trim() === '') {
      skipped.push({ id: entry.id, reason: 'no usable characters in the transcript' });
      continue;
    }
    usable.push({ id: entry.id, wav_path: path.join(root, WAVS_FOLDER, `${entry.id}.wav`), text });
  }

  // The split is drawn over every metadata id, usable or not, so fixing one transcript never moves others.
  const allIds = entries.map((entry) => entry.id);
  let valIds: Set<string>;
  if (dataset.val_list !== undefined) {
    valIds = new Set(readIdList(dataset.val_list));
    const known = new Set(allIds);
    const unknown = [...valIds].filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new AsrTrainerError(
        'E_DATASET_INVALID',
        `${dataset.val_list} lists ${unknown.length} ids that ${metadataPath} does not have (first: ${unknown.slice(0, 5).join(', ')}). Regenerate the list or fix datasets.${name}.val_list.`,
        { file: dataset.val_list, unknown: unknown.slice(0, 20) },
      );
    }
  } else {
    valIds = validationIdsByFraction(allIds, dataset.val_fraction, seed);
  }
  const trainAvailable = usable.filter((u) => !valIds.has(u.id));
  let val = usable.filter((u) => valIds.has(u.id));
  if (trainAvailable.length === 0) {
    throw new AsrTrainerError(
      'E_DATASET_INVALID',
      `Dataset '${name}' has no training utterances left after the validation split (${usable.length} usable, ${val.length} for validation).`,
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
  return {
    name,
    root,
    metadataPath,
    train,
    val,
    skipped,
    droppedCharacters,
    splitMethod: dataset.val_list !== undefined ? 'val_list' : 'val_fraction',
    counts: {
      total: entries.length,
      trainAvailable: trainAvailable.length,
      train: train.length,
      val: val.length,
      skipped: skipped.length,
    },
    maxSkippedFraction: dataset.max_skipped_fraction,
  };
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
  const { path: root } = datasetEntry(config, name);
  try {
    assertDatasetPresent(config, name);
    return { name, path: root, available: true };
  } catch (error) {
    return { name, path: root, available: false, problem: (error as Error).message };
  }
}

/**
 * Throws E_DATASET_NOT_FOUND when the folder or its metadata.csv is missing; the message names the path,
 * lists the configured datasets and says how to get this one.
 */
export function assertDatasetPresent(config: Pick<AsrConfig, 'datasets'>, name: string): void {
  const { path: root } = datasetEntry(config, name);
  const metadataPath = path.join(root, METADATA_FILE);
  let missing: string | undefined;
  if (!isDirectory(root)) missing = `the folder ${root} does not exist`;
  else if (!existsSync(metadataPath)) missing = `${metadataPath} does not exist`;
  if (!missing) return;
  const known = Object.keys(config.datasets);
  throw new AsrTrainerError(
    'E_DATASET_NOT_FOUND',
    `Dataset '${name}' not found: ${missing}. ${howToGet(name, root)} Configured datasets: ${known.join(', ')}.`,
    { dataset_name: name, path: root, known },
  );
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
  return `Check datasets.${name}.path in the config: it must be a folder with metadata.csv (ID|Transcription|Normalized Transcription) and wavs/<ID>.wav.`;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
