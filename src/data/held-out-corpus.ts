/**
 * The held-out set: ~100 clips in LJSpeech layout (metadata.csv, wavs/HELD-NNNN.wav) for measuring how a
 * model trained on the mini corpus does on speech it never had: sentences from a grammar of their own
 * (held-out-sentences.ts) spoken by HELD_OUT_SPEAKERS, whose variants, rates and pitches training never
 * uses. Deterministic from the seed; never trained or tuned on: it is scored, nothing more.
 */
import path from 'node:path';
import { audioSummary, completeCorpus, finishCorpusFolder, prepareCorpusFolder } from './corpus-folder.js';
import { clipRandom, drawSpeaker, HELD_OUT_SPEAKERS } from './corpus-voices.js';
import type { UtteranceSpec } from './dataset.js';
import { speakClips, type SpeakOptions, type SpokenClip } from './espeak.js';
import { generateHeldOutSentences } from './held-out-sentences.js';
import { readLjspeechFolder } from './formats/ljspeech.js';
import { normalizeTranscript } from './text.js';

/** Bump when the held-out grammar, voices or layout change, so existing sets are regenerated. */
export const HELD_OUT_VERSION = 1;
export const HELD_OUT_DEFAULT_CLIPS = 100;

export interface HeldOutOptions extends SpeakOptions {
  /** Output folder (created). */
  out: string;
  /** Clips (default 100). */
  clips?: number;
  seed?: number;
  /** Regenerate even when the folder already holds this set. */
  force?: boolean;
}

export interface HeldOutManifest {
  kind: 'held-out';
  version: number;
  seed: number;
  clips: number;
  audioSeconds: number;
  meanSeconds: number;
}

export interface HeldOutResult extends HeldOutManifest {
  out: string;
  /** True when the folder already held this set and nothing was written. */
  reused: boolean;
  elapsedMs: number;
}

/** The held-out plan: sentences and speakers from the seed. No audio. */
export function planHeldOutCorpus(clips: number, seed: number): SpokenClip[] {
  if (!Number.isInteger(clips) || clips < 1) throw new RangeError(`clips must be an integer >= 1 (got ${clips})`);
  const sentences = generateHeldOutSentences(clips, clipRandom(seed, 'held-out-sentences', 0));
  return sentences.map((sentence, i) => ({
    id: `HELD-${String(i + 1).padStart(4, '0')}`,
    ...sentence,
    ...drawSpeaker(clipRandom(seed, 'held-out', i + 1), HELD_OUT_SPEAKERS),
  }));
}

/** Writes the held-out set into `options.out`, or returns at once when it already holds this exact set. */
export async function makeHeldOutCorpus(options: HeldOutOptions): Promise<HeldOutResult> {
  const started = Date.now();
  const out = path.resolve(options.out);
  const seed = options.seed ?? 0;
  const plan = planHeldOutCorpus(options.clips ?? HELD_OUT_DEFAULT_CLIPS, seed);
  const key = { kind: 'held-out' as const, version: HELD_OUT_VERSION, seed, clips: plan.length };
  const existing = completeCorpus<HeldOutManifest>(out, key, plan);
  if (existing && !options.force) return { ...existing, out, reused: true, elapsedMs: Date.now() - started };

  const wavs = prepareCorpusFolder(out, plan);
  const audioSeconds = await speakClips(plan, wavs, options);
  const manifest: HeldOutManifest = { ...key, ...audioSummary(audioSeconds, plan.length) };
  finishCorpusFolder(out, manifest, plan);
  return { ...manifest, out, reused: false, elapsedMs: Date.now() - started };
}

/** A held-out folder's clips as the FeatureStore takes them: every clip, normalised transcripts. */
export function readHeldOutUtterances(dir: string): UtteranceSpec[] {
  return readLjspeechFolder(path.resolve(dir)).utterances.map((entry) => ({
    id: entry.id,
    wav_path: entry.audioPath,
    text: normalizeTranscript(entry.transcript),
  }));
}
