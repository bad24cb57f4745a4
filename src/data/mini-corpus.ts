/**
 * The bundled mini corpus: grammar sentences spoken by espeak-ng, written in LJSpeech layout (metadata.csv,
 * wavs/<ID>.wav at 22050 Hz 16-bit mono) plus the validation id list. Deterministic from the seed;
 * validation sentences never occur in training.
 *
 * The validation clips are the ones this generator has always made (same ids, text, speakers and audio
 * bytes), so validation figures stay comparable across versions; test/data/fixtures/mini-corpus-val.json
 * pins them. Training clips draw their speakers per clip from the wider TRAINING_SPEAKERS, and their
 * number is an option: fewer keeps the first ones, more adds sentences no other clip has.
 */
import path from 'node:path';
import { AsrTrainerError } from '../errors.js';
import {
  audioSummary,
  completeCorpus,
  finishCorpusFolder,
  prepareCorpusFolder,
  writeAtomically,
} from './corpus-folder.js';
import { clipRandom, drawSpeaker, TRAINING_SPEAKERS, VALIDATION_SPEAKERS } from './corpus-voices.js';
import { speakClips, type SpeakOptions, type SpokenClip } from './espeak.js';
import { generateUniqueSentences, SeededRandom } from './sentence-grammar.js';

/** Bump when the grammar, voices or layout change, so existing corpora are regenerated. */
export const MINI_CORPUS_VERSION = 2;
export const VAL_LIST_FILE = 'val_ids.txt';

export interface MiniCorpusOptions extends SpeakOptions {
  /** Output folder (created). */
  out: string;
  /** Sentences the validation split is drawn from (default 800; keep it for the standard validation set). */
  count?: number;
  seed?: number;
  /** Share of `count` held out for validation (default 0.1). */
  valFraction?: number;
  /** Training clips (default: the rest of `count`, 720). */
  trainClips?: number;
  /** Regenerate even when the folder already holds this corpus. */
  force?: boolean;
}

export interface MiniCorpusUtterance extends SpokenClip {
  split: 'train' | 'val';
}

export interface MiniCorpusManifest {
  version: number;
  seed: number;
  count: number;
  valFraction: number;
  trainClips: number;
  valCount: number;
  /** Clips written: trainClips + valCount. */
  clips: number;
  audioSeconds: number;
  meanSeconds: number;
}

export interface MiniCorpusResult extends MiniCorpusManifest {
  out: string;
  /** True when the folder already held this corpus and nothing was written. */
  reused: boolean;
  elapsedMs: number;
}

/** The validation clips' count for a plan of `count` sentences. */
export function miniCorpusValCount(count: number, valFraction: number): number {
  return Math.min(count - 1, Math.max(1, Math.round(count * valFraction)));
}

/** The corpus plan: sentences, speakers and the split, all from the seed. No audio. */
export function planMiniCorpus(
  count: number,
  seed: number,
  valFraction: number,
  trainClips = count - miniCorpusValCount(count, valFraction),
): MiniCorpusUtterance[] {
  if (!Number.isInteger(count) || count < 2) throw new RangeError(`count must be an integer >= 2 (got ${count})`);
  if (!Number.isInteger(trainClips) || trainClips < 1) {
    throw new RangeError(`trainClips must be an integer >= 1 (got ${trainClips})`);
  }
  const random = new SeededRandom(seed);
  const sentences = generateUniqueSentences(count, random);
  const valIndices = new Set(random.shuffle([...sentences.keys()]).slice(0, miniCorpusValCount(count, valFraction)));
  const base: MiniCorpusUtterance[] = sentences.map((sentence, i) => {
    // Drawn for every clip, in order, as the generator always has: that keeps each validation clip's speaker.
    const original = drawSpeaker(random, VALIDATION_SPEAKERS);
    const split = valIndices.has(i) ? 'val' : 'train';
    const speaker = split === 'val' ? original : trainingSpeaker(seed, i + 1);
    return { id: miniId(i + 1), ...sentence, ...speaker, split };
  });

  const baseTrain = base.filter((u) => u.split === 'train');
  if (trainClips <= baseTrain.length) {
    const kept = new Set(baseTrain.slice(0, trainClips).map((u) => u.id));
    return base.filter((u) => u.split === 'val' || kept.has(u.id));
  }
  const extra = generateUniqueSentences(
    trainClips - baseTrain.length,
    clipRandom(seed, 'extra-sentences', 0),
    new Set(sentences.map((s) => s.spoken)),
  );
  return [
    ...base,
    ...extra.map((sentence, k): MiniCorpusUtterance => {
      const n = count + 1 + k;
      return { id: miniId(n), ...sentence, ...trainingSpeaker(seed, n), split: 'train' };
    }),
  ];
}

function miniId(n: number): string {
  return `MINI-${String(n).padStart(4, '0')}`;
}

function trainingSpeaker(seed: number, n: number) {
  return drawSpeaker(clipRandom(seed, 'train', n), TRAINING_SPEAKERS);
}

/** Writes the corpus into `options.out`, or returns at once when it already holds this exact corpus. */
export async function makeMiniCorpus(options: MiniCorpusOptions): Promise<MiniCorpusResult> {
  const started = Date.now();
  const out = path.resolve(options.out);
  const count = options.count ?? 800;
  const seed = options.seed ?? 0;
  const valFraction = options.valFraction ?? 0.1;
  const trainClips = options.trainClips ?? count - miniCorpusValCount(count, valFraction);
  const plan = planMiniCorpus(count, seed, valFraction, trainClips);
  assertDisjointSplit(plan);

  const key = { version: MINI_CORPUS_VERSION, seed, count, valFraction, trainClips };
  const existing = completeCorpus<MiniCorpusManifest>(out, key, plan, [VAL_LIST_FILE]);
  if (existing && !options.force) return { ...existing, out, reused: true, elapsedMs: Date.now() - started };

  const wavs = prepareCorpusFolder(out, plan);
  const audioSeconds = await speakClips(plan, wavs, options);
  const valIds = plan.filter((u) => u.split === 'val').map((u) => u.id);
  writeAtomically(path.join(out, VAL_LIST_FILE), `${valIds.join('\n')}\n`);
  const manifest: MiniCorpusManifest = {
    ...key,
    valCount: valIds.length,
    clips: plan.length,
    ...audioSummary(audioSeconds, plan.length),
  };
  finishCorpusFolder(out, manifest, plan);
  return { ...manifest, out, reused: false, elapsedMs: Date.now() - started };
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
