/**
 * The bundled mini corpus: grammar sentences spoken by espeak-ng in several voices, rates and pitches,
 * written in LJSpeech layout (metadata.csv, wavs/<ID>.wav at 22050 Hz 16-bit mono) plus the validation
 * id list. Deterministic from the seed; validation sentences never occur in training.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { AsrTrainerError } from '../errors.js';
import { generateUniqueSentences, SeededRandom } from './sentence-grammar.js';
import { readWavInfo } from './wav-header.js';

/** Bump when the grammar, voices or layout change, so existing corpora are regenerated. */
export const MINI_CORPUS_VERSION = 1;
export const MINI_CORPUS_SAMPLE_RATE = 22050;
export const VAL_LIST_FILE = 'val_ids.txt';
export const MANIFEST_FILE = 'corpus.json';

/** espeak-ng's own English voices (the mbrola ones need extra packages), with its voice variants. */
export const MINI_CORPUS_VOICES = [
  'en-us',
  'en-gb',
  'en-gb-scotland',
  'en-gb-x-rp',
  'en-gb-x-gbclan',
  'en-gb-x-gbcwmd',
  'en-029',
  'en-us-nyc',
] as const;
export const MINI_CORPUS_VARIANTS = ['', '+m1', '+m3', '+f1', '+f2', '+f4'] as const;

export interface MiniCorpusOptions {
  /** Output folder (created). */
  out: string;
  /** Utterances (default 800). */
  count?: number;
  seed?: number;
  /** Share of sentences held out for validation (default 0.1). */
  valFraction?: number;
  /** espeak-ng processes at a time (default 2–4 by the core count). */
  concurrency?: number;
  /** espeak-ng binary (default `espeak-ng` on PATH). */
  espeak?: string;
  /** Regenerate even when the folder already holds this corpus. */
  force?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface MiniCorpusUtterance {
  id: string;
  written: string;
  spoken: string;
  voice: string;
  rate: number;
  pitch: number;
  split: 'train' | 'val';
}

export interface MiniCorpusManifest {
  version: number;
  seed: number;
  count: number;
  valFraction: number;
  valCount: number;
  audioSeconds: number;
  meanSeconds: number;
}

export interface MiniCorpusResult extends MiniCorpusManifest {
  out: string;
  /** True when the folder already held this corpus and nothing was written. */
  reused: boolean;
  elapsedMs: number;
}

/** The corpus plan: sentences, voices, rates, pitches and the split, all from the seed. No audio. */
export function planMiniCorpus(count: number, seed: number, valFraction: number): MiniCorpusUtterance[] {
  if (!Number.isInteger(count) || count < 2) throw new RangeError(`count must be an integer >= 2 (got ${count})`);
  const random = new SeededRandom(seed);
  const sentences = generateUniqueSentences(count, random);
  const valCount = Math.min(count - 1, Math.max(1, Math.round(count * valFraction)));
  const valIndices = new Set(random.shuffle([...sentences.keys()]).slice(0, valCount));
  return sentences.map((sentence, i) => ({
    id: `MINI-${String(i + 1).padStart(4, '0')}`,
    written: sentence.written,
    spoken: sentence.spoken,
    voice: `${random.pick(MINI_CORPUS_VOICES)}${random.pick(MINI_CORPUS_VARIANTS)}`,
    rate: random.int(150, 200),
    pitch: random.int(30, 70),
    split: valIndices.has(i) ? 'val' : 'train',
  }));
}

/** Writes the corpus into `options.out`, or returns at once when it already holds this exact corpus. */
export async function makeMiniCorpus(options: MiniCorpusOptions): Promise<MiniCorpusResult> {
  const started = Date.now();
  const out = path.resolve(options.out);
  const count = options.count ?? 800;
  const seed = options.seed ?? 0;
  const valFraction = options.valFraction ?? 0.1;
  const plan = planMiniCorpus(count, seed, valFraction);
  assertDisjointSplit(plan);

  const existing = completeManifest(out, plan, seed, valFraction);
  if (existing && !options.force) return { ...existing, out, reused: true, elapsedMs: Date.now() - started };

  const wavs = path.join(out, 'wavs');
  mkdirSync(wavs, { recursive: true });
  // metadata.csv is the done marker (scripts/setup.sh checks it): remove it first, write it last.
  rmSync(path.join(out, 'metadata.csv'), { force: true });
  const wanted = new Set(plan.map((u) => `${u.id}.wav`));
  for (const name of readdirSync(wavs)) {
    if (!wanted.has(name)) rmSync(path.join(wavs, name), { force: true });
  }

  const espeak = options.espeak ?? 'espeak-ng';
  const concurrency = options.concurrency ?? Math.min(4, Math.max(2, availableParallelism()));
  let done = 0;
  let audioSeconds = 0;
  await runPool(plan, concurrency, async (utterance) => {
    const file = path.join(wavs, `${utterance.id}.wav`);
    await synthesize(espeak, utterance, file);
    const info = readWavInfo(file);
    if (info.sampleRate !== MINI_CORPUS_SAMPLE_RATE || info.channels !== 1 || info.bitsPerSample !== 16) {
      throw new AsrTrainerError(
        'E_INTERNAL',
        `${espeak} wrote ${file} as ${info.sampleRate} Hz, ${info.bitsPerSample}-bit, ${info.channels} channels; the mini corpus needs 22050 Hz 16-bit mono (voice ${utterance.voice})`,
      );
    }
    audioSeconds += info.seconds;
    done += 1;
    options.onProgress?.(done, plan.length);
  });

  const valIds = plan.filter((u) => u.split === 'val').map((u) => u.id);
  writeAtomically(path.join(out, VAL_LIST_FILE), `${valIds.join('\n')}\n`);
  const manifest: MiniCorpusManifest = {
    version: MINI_CORPUS_VERSION,
    seed,
    count,
    valFraction,
    valCount: valIds.length,
    audioSeconds: round3(audioSeconds),
    meanSeconds: round3(audioSeconds / count),
  };
  writeAtomically(path.join(out, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  const metadata = plan.map((u) => `${u.id}|${u.written}|${u.spoken}`).join('\n');
  writeAtomically(path.join(out, 'metadata.csv'), `${metadata}\n`);
  return { ...manifest, out, reused: false, elapsedMs: Date.now() - started };
}

/** The manifest when `out` already holds the corpus `plan` describes, complete; otherwise undefined. */
function completeManifest(out: string, plan: MiniCorpusUtterance[], seed: number, valFraction: number) {
  try {
    const manifest = JSON.parse(readFileSync(path.join(out, MANIFEST_FILE), 'utf8')) as MiniCorpusManifest;
    if (
      manifest.version !== MINI_CORPUS_VERSION ||
      manifest.seed !== seed ||
      manifest.count !== plan.length ||
      manifest.valFraction !== valFraction ||
      !existsSync(path.join(out, 'metadata.csv')) ||
      !existsSync(path.join(out, VAL_LIST_FILE))
    ) {
      return undefined;
    }
    const allWavs = plan.every((u) => {
      const file = path.join(out, 'wavs', `${u.id}.wav`);
      return existsSync(file) && statSync(file).size > 44;
    });
    return allWavs ? manifest : undefined;
  } catch {
    return undefined;
  }
}

function assertDisjointSplit(plan: MiniCorpusUtterance[]): void {
  const trainTexts = new Set(plan.filter((u) => u.split === 'train').map((u) => u.spoken));
  const leaked = plan.filter((u) => u.split === 'val' && trainTexts.has(u.spoken));
  if (leaked.length > 0) {
    throw new AsrTrainerError(
      'E_INTERNAL',
      `validation sentences also in training: ${leaked.map((u) => u.id).join(', ')}`,
    );
  }
}

function synthesize(espeak: string, utterance: MiniCorpusUtterance, file: string): Promise<void> {
  const temp = `${file}.tmp`;
  const args = [
    '-v',
    utterance.voice,
    '-s',
    String(utterance.rate),
    '-p',
    String(utterance.pitch),
    '-w',
    temp,
    utterance.spoken,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(espeak, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      const hint =
        error.code === 'ENOENT' ? ' Install it with `sudo apt-get install espeak-ng` (scripts/setup.sh does).' : '';
      reject(new AsrTrainerError('E_IO', `Cannot run ${espeak}: ${error.message}.${hint}`));
    });
    child.on('close', (code, signal) => {
      if (code !== 0 || !existsSync(temp)) {
        reject(
          new AsrTrainerError(
            'E_IO',
            `${espeak} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || 'no output file'}`,
          ),
        );
        return;
      }
      renameSync(temp, file);
      resolve();
    });
  });
}

/** Runs `task` over `items`, at most `limit` at a time; the first failure rejects (others finish first). */
async function runPool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const item = items[next++];
      try {
        await task(item);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (failure !== undefined) throw failure;
}

function writeAtomically(file: string, text: string): void {
  const temp = `${file}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
