/**
 * Which format a path holds and which of its sources play which role when the config lists none:
 * detection looks at the files each format is known by, nothing else.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CorpusFormat, SplitRole } from '../../contract/datasets.js';
import { transcriptFiles } from './librispeech.js';

/** The format `location` (a folder or a manifest file) holds, or undefined when nothing gives it away. */
export function detectFormat(location: string): CorpusFormat | undefined {
  if (isFile(location)) {
    if (location.endsWith('.tsv')) return 'commonvoice';
    return /\.jsonl?$/.test(location) ? 'nemo' : undefined;
  }
  if (!isDirectory(location)) return undefined;
  const has = (name: string) => existsSync(path.join(location, name));
  if (has('metadata.csv')) return 'ljspeech';
  if (has('wav.scp')) return 'kaldi';
  if (['train.tsv', 'dev.tsv', 'test.tsv', 'validated.tsv'].some(has)) return 'commonvoice';
  if (librispeechSplits(location).length > 0 || transcriptFiles(location).length > 0) return 'librispeech';
  return undefined;
}

/**
 * The sources of each role when the config lists none: LibriSpeech's `train*`, `dev*` and `test*`
 * folders (or the folder itself when it is one split), Common Voice's train/dev/test.tsv, and for a
 * manifest file, NeMo and Kaldi the path itself as the training source. Validation left out is drawn from training.
 */
export function defaultSources(format: CorpusFormat, root: string): Partial<Record<SplitRole, string[]>> {
  if (isFile(root)) return { train: [root] };
  switch (format) {
    case 'librispeech': {
      const splits = librispeechSplits(root);
      if (splits.length === 0) return { train: [root] };
      const byPrefix = (prefix: string) => splits.filter((s) => s.startsWith(prefix)).map((s) => path.join(root, s));
      return nonEmpty({ train: byPrefix('train'), validation: byPrefix('dev'), test: byPrefix('test') });
    }
    case 'commonvoice': {
      const tsv = (name: string) => (existsSync(path.join(root, name)) ? [path.join(root, name)] : []);
      return nonEmpty({ train: tsv('train.tsv'), validation: tsv('dev.tsv'), test: tsv('test.tsv') });
    }
    default:
      return { train: [root] };
  }
}

/** A list entry as the format names it: Common Voice's `dev` is `dev.tsv`. */
export function resolveSource(format: CorpusFormat, entry: string): string {
  if (format === 'commonvoice' && !existsSync(entry) && existsSync(`${entry}.tsv`)) return `${entry}.tsv`;
  return entry;
}

/** The name `--split` knows a source by: its folder or file name without the manifest extension. */
export function splitName(source: string): string {
  return path.basename(source).replace(/\.(tsv|json|jsonl)$/, '');
}

/** LibriSpeech's split folders under `root` (train-clean-100, dev-clean, test-other, ...). */
function librispeechSplits(root: string): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && /^(train|dev|test)-/.test(entry.name))
    .map((entry) => entry.name)
    .sort();
}

function nonEmpty(roles: Record<SplitRole, string[]>): Partial<Record<SplitRole, string[]>> {
  return Object.fromEntries(Object.entries(roles).filter(([, sources]) => sources.length > 0));
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
