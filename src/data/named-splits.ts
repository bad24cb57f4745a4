/**
 * One configured corpus (any format) → its named splits: every source of every role read by its format's
 * reader, transcripts normalised, and the utterances no run could use set aside with the reason (an empty
 * transcript, an id seen before). What plays validation when no source is listed is dataset.ts's rule.
 */
import { existsSync } from 'node:fs';
import type { CorpusFormat, SplitRole } from '../contract/datasets.js';
import { CORPUS_FORMATS } from '../contract/datasets.js';
import type { DatasetConfig } from '../config/schema.js';
import { AsrTrainerError } from '../errors.js';
import type { UtteranceSpec } from '../native/types.js';
import { defaultSources, detectFormat, readSource, resolveSource, splitName } from './formats/index.js';
import { DroppedCharacterCounter, normalizeTranscript } from './text.js';

export interface NamedSplit {
  /** The source's name (`test-clean`, `dev`, `train_manifest`), or the role's for a drawn split. */
  name: string;
  role: SplitRole;
  utterances: UtteranceSpec[];
}

export interface SkippedUtterance {
  id: string;
  reason: string;
}

export interface CorpusSplits {
  format: CorpusFormat;
  splits: NamedSplit[];
  skipped: SkippedUtterance[];
  /** Utterances the sources list, usable or not. */
  total: number;
  /** Whether validation was listed; if not, dataset.ts draws it from training. */
  validationListed: boolean;
  /** Every distinct id of the training sources, usable or not: the validation draw is over these. */
  trainIds: string[];
}

/** The format of dataset `name`: configured, or detected from its path (or first training source). */
export function formatOf(name: string, entry: DatasetConfig): CorpusFormat {
  if (entry.format !== undefined) return entry.format;
  const location = entry.path ?? entry.train?.[0] ?? '';
  const detected = detectFormat(location);
  if (detected === undefined) {
    throw new AsrTrainerError(
      'E_DATASET_INVALID',
      `Cannot tell the format of dataset '${name}' from ${location}: set datasets.${name}.format to one of ${CORPUS_FORMATS.join(', ')}.`,
      { dataset_name: name, path: location },
    );
  }
  return detected;
}

/** Each role's sources, absolute and as the format names them; roles the config leaves out get the format's. */
export function sourcesOf(name: string, entry: DatasetConfig): Partial<Record<SplitRole, string[]>> {
  const format = formatOf(name, entry);
  const listed = entry.train !== undefined || entry.validation !== undefined || entry.test !== undefined;
  if (format === 'ljspeech' && listed) {
    throw new AsrTrainerError(
      'E_DATASET_INVALID',
      `Dataset '${name}' is an LJSpeech folder: one metadata.csv, no train/validation/test lists. Hold validation out with datasets.${name}.val_list or val_fraction.`,
      { dataset_name: name },
    );
  }
  const sources = listed
    ? { train: entry.train, validation: entry.validation, test: entry.test }
    : defaultSources(format, entry.path ?? '');
  return Object.fromEntries(
    Object.entries(sources)
      .filter(([, list]) => list !== undefined)
      .map(([role, list]) => [role, list.map((source) => resolveSource(format, source))]),
  );
}

/** The first source of dataset `name` that is not on disk, or undefined when all are. */
export function missingSource(name: string, entry: DatasetConfig): string | undefined {
  return Object.values(sourcesOf(name, entry))
    .flat()
    .find((source) => !existsSync(source));
}

export function readNamedSplits(name: string, entry: DatasetConfig, dropped: DroppedCharacterCounter): CorpusSplits {
  const format = formatOf(name, entry);
  const sources = sourcesOf(name, entry);
  if (sources.train === undefined) {
    throw new AsrTrainerError(
      'E_DATASET_INVALID',
      `Dataset '${name}' names no training source: add datasets.${name}.train (the ${format} sources to train on).`,
      { dataset_name: name },
    );
  }
  const result: CorpusSplits = {
    format,
    splits: [],
    skipped: [],
    total: 0,
    validationListed: sources.validation !== undefined,
    trainIds: [],
  };
  const firstSplitOf = new Map<string, string>();
  for (const [role, list] of Object.entries(sources) as [SplitRole, string[]][]) {
    for (const source of list) {
      const contents = readSource(format, source);
      const split: NamedSplit = { name: splitName(source), role, utterances: [] };
      result.total += contents.utterances.length + contents.skipped.length;
      result.skipped.push(...contents.skipped);
      for (const utterance of contents.utterances) {
        const earlier = firstSplitOf.get(utterance.id);
        if (earlier !== undefined) {
          result.skipped.push({ id: utterance.id, reason: `duplicate id (first in ${earlier})` });
          continue;
        }
        firstSplitOf.set(utterance.id, split.name);
        if (role === 'train') result.trainIds.push(utterance.id);
        const text = normalizeTranscript(utterance.transcript, dropped);
        if (text.replaceAll("'", '').trim() === '') {
          result.skipped.push({ id: utterance.id, reason: 'no usable characters in the transcript' });
          continue;
        }
        split.utterances.push({
          id: utterance.id,
          wav_path: utterance.audioPath,
          text,
          ...(utterance.offset !== undefined ? { offset: utterance.offset } : {}),
          ...(utterance.duration !== undefined ? { duration: utterance.duration } : {}),
        });
      }
      result.splits.push(split);
    }
  }
  return result;
}
