/**
 * Generates the bundled mini corpus (LJSpeech layout) with espeak-ng:
 *   npx tsx scripts/make-mini-corpus.ts [--out data/mini-ljspeech] [--count 800] [--seed 0] [--force]
 * Does nothing when the folder already holds the same corpus. scripts/setup.sh runs it.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeMiniCorpus } from '../src/data/mini-corpus.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function integerOption(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    console.error(`make-mini-corpus: --${name} must be an integer >= ${min} (got ${JSON.stringify(value)})`);
    process.exit(2);
  }
  return n;
}

const { values } = parseArgs({
  options: {
    out: { type: 'string', short: 'o' },
    count: { type: 'string', short: 'n' },
    seed: { type: 'string' },
    'val-fraction': { type: 'string' },
    concurrency: { type: 'string', short: 'j' },
    force: { type: 'boolean', default: false },
    quiet: { type: 'boolean', short: 'q', default: false },
  },
});

const out = path.resolve(values.out ?? path.join(repoRoot, 'data/mini-ljspeech'));
const valFraction = values['val-fraction'] === undefined ? 0.1 : Number(values['val-fraction']);
if (!(valFraction > 0 && valFraction < 1)) {
  console.error(`make-mini-corpus: --val-fraction must be between 0 and 1 (got ${values['val-fraction']})`);
  process.exit(2);
}

try {
  const result = await makeMiniCorpus({
    out,
    count: integerOption('count', values.count, 800, 2),
    seed: integerOption('seed', values.seed, 0, 0),
    valFraction,
    concurrency: values.concurrency === undefined ? undefined : integerOption('concurrency', values.concurrency, 2, 1),
    force: values.force,
    onProgress: values.quiet
      ? undefined
      : (done, total) => {
          if (done % 100 === 0 || done === total) console.log(`make-mini-corpus: ${done}/${total} clips`);
        },
  });
  const what = result.reused ? 'already complete' : `written in ${(result.elapsedMs / 1000).toFixed(1)} s`;
  console.log(
    `make-mini-corpus: ${result.out}: ${result.count} clips (${result.valCount} validation), ` +
      `${(result.audioSeconds / 60).toFixed(1)} min of audio, mean ${result.meanSeconds.toFixed(2)} s, ${what}`,
  );
} catch (error) {
  console.error(`make-mini-corpus: ${(error as Error).message}`);
  process.exit(1);
}
