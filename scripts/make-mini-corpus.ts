/**
 * Generates the bundled mini corpus or its held-out set with espeak-ng (USAGE below); scripts/setup.sh
 * runs it with no options.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HELD_OUT_DEFAULT_CLIPS, makeHeldOutCorpus, makeMiniCorpus } from '../src/data/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const USAGE = `Usage:
  npx tsx scripts/make-mini-corpus.ts [--out data/mini-ljspeech] [--train-clips 720] [--seed 0] [--force]
      the mini corpus (LJSpeech layout): 80 validation clips, always the same, and --train-clips training clips.
      --count (800) and --val-fraction (0.1) set the plan the validation clips are drawn from: keep them
      and validation figures stay comparable with every published one.
  npx tsx scripts/make-mini-corpus.ts --held-out data/mini-ljspeech-held-out [--held-out-clips 100] [--seed 0]
      the held-out set: sentences, voices, rates and pitches the training clips never have.
Both do nothing when the folder already holds that corpus (--force regenerates); -j N: espeak-ng processes
at a time; -q: no progress lines.`;

function usageError(message: string): never {
  console.error(`make-mini-corpus: ${message}`);
  process.exit(2);
}

function integerOption(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    usageError(`--${name} must be an integer >= ${min} (got ${JSON.stringify(value)})`);
  }
  return n;
}

function parseOptions() {
  try {
    return parseArgs({ options: OPTIONS }).values;
  } catch (error) {
    return usageError(`${(error as Error).message}\n${USAGE}`);
  }
}

const OPTIONS = {
  out: { type: 'string', short: 'o' },
  count: { type: 'string', short: 'n' },
  'train-clips': { type: 'string' },
  seed: { type: 'string' },
  'val-fraction': { type: 'string' },
  'held-out': { type: 'string' },
  'held-out-clips': { type: 'string' },
  concurrency: { type: 'string', short: 'j' },
  force: { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const values = parseOptions();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const heldOut = values['held-out'];
if (heldOut !== undefined) {
  const corpusOnly = (['out', 'count', 'train-clips', 'val-fraction'] as const).filter((o) => values[o] !== undefined);
  if (corpusOnly.length > 0) {
    usageError(`--held-out writes the held-out set only; drop ${corpusOnly.map((o) => `--${o}`).join(', ')}`);
  }
} else if (values['held-out-clips'] !== undefined) {
  usageError('--held-out-clips needs --held-out DIR');
}
const valFraction = values['val-fraction'] === undefined ? 0.1 : Number(values['val-fraction']);
if (!(valFraction > 0 && valFraction < 1)) {
  usageError(`--val-fraction must be between 0 and 1 (got ${values['val-fraction']})`);
}
const common = {
  seed: integerOption('seed', values.seed, 0),
  concurrency: integerOption('concurrency', values.concurrency, 1),
  force: values.force,
  onProgress: values.quiet
    ? undefined
    : (done: number, total: number) => {
        if (done % 100 === 0 || done === total) console.log(`make-mini-corpus: ${done}/${total} clips`);
      },
};

try {
  if (heldOut !== undefined) {
    const result = await makeHeldOutCorpus({
      ...common,
      out: heldOut,
      clips: integerOption('held-out-clips', values['held-out-clips'], 1) ?? HELD_OUT_DEFAULT_CLIPS,
    });
    console.log(
      `make-mini-corpus: ${result.out}: ${result.clips} held-out clips, ` +
        `${(result.audioSeconds / 60).toFixed(1)} min of audio, mean ${result.meanSeconds.toFixed(2)} s, ${done(result)}`,
    );
  } else {
    const result = await makeMiniCorpus({
      ...common,
      out: path.resolve(values.out ?? path.join(repoRoot, 'data/mini-ljspeech')),
      count: integerOption('count', values.count, 2),
      trainClips: integerOption('train-clips', values['train-clips'], 1),
      valFraction,
    });
    console.log(
      `make-mini-corpus: ${result.out}: ${result.clips} clips (${result.valCount} validation), ` +
        `${(result.audioSeconds / 60).toFixed(1)} min of audio, mean ${result.meanSeconds.toFixed(2)} s, ${done(result)}`,
    );
  }
} catch (error) {
  console.error(`make-mini-corpus: ${(error as Error).message}`);
  process.exit(1);
}

function done(result: { reused: boolean; elapsedMs: number }): string {
  return result.reused ? 'already complete' : `written in ${(result.elapsedMs / 1000).toFixed(1)} s`;
}
