/**
 * Who speaks the generated corpora. A speaker is one of espeak-ng's own English voices (the accent), a voice
 * variant (timbre and pitch range), a rate (words a minute) and a pitch (0–99 within the variant's range).
 * The training clips and the held-out set draw from disjoint variant lists and disjoint rate and pitch
 * ranges, so the held-out figure is about speakers the model never heard. Every accent is in both: the 80
 * validation clips already use all eight, and espeak-ng has no other English one without the mbrola
 * packages.
 */
import { SeededRandom } from './sentence-grammar.js';

export const ENGLISH_VOICES = [
  'en-us',
  'en-gb',
  'en-gb-scotland',
  'en-gb-x-rp',
  'en-gb-x-gbclan',
  'en-gb-x-gbcwmd',
  'en-029',
  'en-us-nyc',
] as const;

/** The variants of the corpus before issue 15; the validation clips keep them (and their draw). */
export const VALIDATION_VARIANTS = ['', '+m1', '+m3', '+f1', '+f2', '+f4'] as const;

/**
 * espeak-ng's human-sounding variants, split by hand into two disjoint groups of mixed gender, formant
 * and Klatt voices; the novelty ones (whisper, croak, robots, Demonic) are in neither.
 */
export const TRAINING_VARIANTS = [
  ...VALIDATION_VARIANTS,
  '+m2',
  '+m4',
  '+m6',
  '+m7',
  '+klatt',
  '+klatt3',
  '+Andy',
  '+Annie',
  '+Denis',
  '+Michael',
  '+linda',
  '+steph',
  '+travis',
] as const;
export const HELD_OUT_VARIANTS = [
  '+m5',
  '+m8',
  '+f3',
  '+f5',
  '+klatt2',
  '+klatt4',
  '+Alex',
  '+belinda',
  '+Jacky',
  '+victor',
] as const;

/** Inclusive integer range. */
export type IntRange = readonly [number, number];

export interface SpeakerPalette {
  variants: readonly string[];
  /** A value is drawn uniformly over the union of the ranges. */
  rates: readonly IntRange[];
  pitches: readonly IntRange[];
}

export interface Speaker {
  voice: string;
  rate: number;
  pitch: number;
}

/** Drawn with the corpus's original ranges; drawSpeaker() consumes the stream exactly as that code did. */
export const VALIDATION_SPEAKERS: SpeakerPalette = {
  variants: VALIDATION_VARIANTS,
  rates: [[150, 200]],
  pitches: [[30, 70]],
};
/** Wider than validation's ranges on both sides, so training covers every validation speaker. */
export const TRAINING_SPEAKERS: SpeakerPalette = {
  variants: TRAINING_VARIANTS,
  rates: [[140, 210]],
  pitches: [[20, 80]],
};
/** Just outside the training ranges: unheard, yet rates and pitches a person might use. */
export const HELD_OUT_SPEAKERS: SpeakerPalette = {
  variants: HELD_OUT_VARIANTS,
  rates: [
    [120, 139],
    [211, 230],
  ],
  pitches: [
    [5, 19],
    [81, 95],
  ],
};

/** Accent, variant, rate, pitch: four draws from `random`, in that order. */
export function drawSpeaker(random: SeededRandom, palette: SpeakerPalette): Speaker {
  const voice = `${random.pick(ENGLISH_VOICES)}${random.pick(palette.variants)}`;
  const rate = drawFromRanges(random, palette.rates);
  const pitch = drawFromRanges(random, palette.pitches);
  return { voice, rate, pitch };
}

/** Every value the palette's ranges allow. */
export function rangeValues(ranges: readonly IntRange[]): number[] {
  return ranges.flatMap(([min, max]) => Array.from({ length: max - min + 1 }, (_, i) => min + i));
}

function drawFromRanges(random: SeededRandom, ranges: readonly IntRange[]): number {
  const sizes = ranges.map(([min, max]) => max - min + 1);
  let k = random.int(0, sizes.reduce((a, b) => a + b, 0) - 1);
  for (const [i, [min]] of ranges.entries()) {
    if (k < sizes[i]) return min + k;
    k -= sizes[i];
  }
  throw new RangeError('drawFromRanges: no ranges');
}

/**
 * A generator of its own for clip `index` of `stream` under `seed`: a clip's draw depends on nothing
 * else, so changing how many clips a corpus has never changes another clip's speaker.
 */
export function clipRandom(seed: number, stream: string, index: number): SeededRandom {
  let h = Math.imul(seed ^ 0x2545f491, 0x9e3779b1);
  for (const c of stream) h = Math.imul(h ^ c.charCodeAt(0), 0x85ebca6b);
  return new SeededRandom(Math.imul(h ^ index, 0xc2b2ae35) >>> 0);
}
