/**
 * What every format reader returns: the utterances of one source (a manifest, a folder) as the corpus
 * lists them, transcripts as written. Normalisation, ids across sources and the skip rules are the
 * dataset's (../dataset.ts), the same for every format.
 */
import { readFileSync } from 'node:fs';
import { AsrTrainerError } from '../../errors.js';

export interface CorpusUtterance {
  id: string;
  /** Absolute path of the audio file (any format libsndfile reads). */
  audioPath: string;
  /** The stretch of the file, in seconds (NeMo's offset + duration, Kaldi's segments); absent: all of it. */
  offset?: number;
  duration?: number;
  transcript: string;
}

/** E_DATASET_INVALID at `file:line`, quoting the line, with the fix. */
export function manifestLineError(
  file: string,
  line: number,
  problem: string,
  text: string,
  fix: string,
): AsrTrainerError {
  const quoted = JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
  return new AsrTrainerError('E_DATASET_INVALID', `${file}:${line}: ${problem}. The line reads: ${quoted}. ${fix}`, {
    file,
    line,
  });
}

/** The lines of a text file with their 1-based numbers; blank ones, a BOM and CR line ends dropped. */
export function numberedLines(text: string): { line: number; text: string }[] {
  return text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .map((raw, index) => ({ line: index + 1, text: raw.endsWith('\r') ? raw.slice(0, -1) : raw }))
    .filter((entry) => entry.text.trim() !== '');
}

/** What a reader found in one source: its utterances, and the ones it had to leave out (with why). */
export interface SourceContents {
  utterances: CorpusUtterance[];
  skipped: { id: string; reason: string }[];
}

/** A manifest's text; E_DATASET_NOT_FOUND naming the file and `fix` when it cannot be read. */
export function readManifest(file: string, fix: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new AsrTrainerError('E_DATASET_NOT_FOUND', `Cannot read ${file}: ${(error as Error).message}. ${fix}`, {
      file,
    });
  }
}
