/**
 * The mini corpus's sentences: a small grammar of commands and descriptions (numbers, colours, objects,
 * places, adverbs, names, days), each sentence in two forms like LJSpeech's columns — written with
 * digits, and spelled out the way it is spoken. Everything is drawn from a seeded generator.
 */

/** mulberry32: a tiny, well-mixed 32-bit PRNG; the same seed gives the same stream on every platform. */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = (seed ^ 0x9e3779b9) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}

/** A generated sentence: `written` uses digits (LJSpeech column 2), `spoken` spells them (column 3). */
export interface GrammarSentence {
  written: string;
  spoken: string;
}

// prettier-ignore
const NUMBER_WORDS = [
  '', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve',
  'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen', 'twenty',
];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

/** 1..99 in words, as espeak would read the digits. */
export function numberToWords(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 99) throw new RangeError(`numberToWords: ${n} is outside 1..99`);
  if (n <= 20) return NUMBER_WORDS[n];
  const tens = TENS[Math.floor(n / 10)];
  return n % 10 === 0 ? tens : `${tens} ${NUMBER_WORDS[n % 10]}`;
}

// prettier-ignore
const COLOURS = ['red', 'blue', 'green', 'yellow', 'black', 'white', 'orange', 'purple', 'brown', 'grey', 'pink', 'silver'];
const SIZES = ['small', 'large', 'old', 'new', 'heavy', 'tiny', 'long', 'round'];
// [singular, plural]
// prettier-ignore
const OBJECTS: ReadonlyArray<readonly [string, string]> = [
  ['box', 'boxes'], ['cup', 'cups'], ['lamp', 'lamps'], ['chair', 'chairs'], ['book', 'books'],
  ['key', 'keys'], ['bottle', 'bottles'], ['ball', 'balls'], ['clock', 'clocks'], ['pencil', 'pencils'],
  ['basket', 'baskets'], ['candle', 'candles'], ['jacket', 'jackets'], ['plate', 'plates'], ['bag', 'bags'],
  ['flower', 'flowers'], ['blanket', 'blankets'], ['radio', 'radios'], ['shoe', 'shoes'], ['knife', 'knives'],
];
// prettier-ignore
const PLACES = [
  'in the kitchen', 'on the table', 'near the window', 'under the bed', 'in the garden', 'behind the door',
  'at the station', 'in the office', 'on the shelf', 'by the river', 'in the hallway', 'on the roof',
  'next to the sofa', 'inside the car', 'in the basement', 'at the market',
];
// prettier-ignore
const ADVERBS = ['slowly', 'quickly', 'carefully', 'quietly', 'gently', 'right now', 'today', 'again', 'later', 'at once'];
// prettier-ignore
const VERBS = ['move', 'take', 'bring', 'open', 'close', 'paint', 'find', 'lift', 'clean', 'check', 'hide', 'wrap', 'fetch', 'count'];
const NAMES = ['anna', 'peter', 'maria', 'john', 'sarah', 'david', 'lucy', 'tom', 'emma', 'oliver'];
const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

/** A piece of a sentence in both forms. */
export interface Slot {
  written: string;
  spoken: string;
}
const word = (w: string): Slot => ({ written: w, spoken: w });
const count = (n: number): Slot => ({ written: String(n), spoken: numberToWords(n) });
export { word as wordSlot, count as numberSlot };

export type Template = (r: SeededRandom) => Slot[];

const TEMPLATES: readonly Template[] = [
  (r) => [word(r.pick(VERBS)), word('the'), word(r.pick(COLOURS)), word(r.pick(OBJECTS)[0]), word(r.pick(ADVERBS))],
  (r) => [
    word('please'),
    word(r.pick(VERBS)),
    word('the'),
    word(r.pick(SIZES)),
    word(r.pick(OBJECTS)[0]),
    word(r.pick(PLACES)),
  ],
  (r) => [
    word(r.pick(VERBS)),
    count(r.int(2, 20)),
    word(r.pick(COLOURS)),
    word(r.pick(OBJECTS)[1]),
    word(r.pick(PLACES)),
  ],
  (r) => [word('there are'), count(r.int(2, 99)), word(r.pick(OBJECTS)[1]), word(r.pick(PLACES))],
  (r) => [word('the'), word(r.pick(OBJECTS)[0]), word(r.pick(PLACES)), word('is'), word(r.pick(COLOURS))],
  (r) => [word('i see'), count(r.int(2, 12)), word(r.pick(SIZES)), word(r.pick(COLOURS)), word(r.pick(OBJECTS)[1])],
  (r) => [word('put the'), word(r.pick(OBJECTS)[0]), word(r.pick(PLACES)), word(r.pick(ADVERBS))],
  (r) => [word('we need'), count(r.int(2, 50)), word(r.pick(OBJECTS)[1]), word('by'), word(r.pick(DAYS))],
  (r) => [word(r.pick(NAMES)), word('left the'), word(r.pick(COLOURS)), word(r.pick(OBJECTS)[0]), word(r.pick(PLACES))],
  (r) => [
    word('wait'),
    count(r.int(2, 30)),
    word('minutes then'),
    word(r.pick(VERBS)),
    word('the'),
    word(r.pick(OBJECTS)[0]),
  ],
  (r) => [word('meet me'), word(r.pick(PLACES)), word('at'), count(r.int(1, 12)), word("o'clock")],
  (r) => [word("don't"), word(r.pick(VERBS)), word('the'), word(r.pick(SIZES)), word(r.pick(OBJECTS)[0])],
  (r) => [
    word("it's"),
    word(r.pick(['time', 'easy', 'safe'])),
    word('to'),
    word(r.pick(VERBS)),
    word('the'),
    word(r.pick(OBJECTS)[1]),
  ],
  (r) => [word(r.pick(NAMES)), word('has'), count(r.int(2, 9)), word(r.pick(COLOURS)), word(r.pick(OBJECTS)[1])],
  (r) => [word('the'), word(r.pick(SIZES)), word(r.pick(OBJECTS)[0]), word('is'), word(r.pick(PLACES))],
  (r) => [word('one'), word(r.pick(COLOURS)), word(r.pick(OBJECTS)[0]), word('fell'), word(r.pick(PLACES))],
];

/** The sentence the slots spell: spoken forms joined, written forms joined, capitalised and ended. */
export function joinSlots(slots: readonly Slot[], end = '.'): GrammarSentence {
  const spoken = slots.map((s) => s.spoken).join(' ');
  const written = slots.map((s) => s.written).join(' ');
  return { spoken, written: `${written[0].toUpperCase()}${written.slice(1)}${end}` };
}

/** One sentence from the grammar. */
export function generateSentence(random: SeededRandom): GrammarSentence {
  return joinSlots(random.pick(TEMPLATES)(random));
}

/**
 * `count` sentences with pairwise different spoken forms, none of them in `exclude`; fails if `generate`
 * (default: this grammar) cannot supply that many.
 */
export function generateUniqueSentences(
  count: number,
  random: SeededRandom,
  exclude: ReadonlySet<string> = new Set(),
  generate: (random: SeededRandom) => GrammarSentence = generateSentence,
): GrammarSentence[] {
  const seen = new Set<string>(exclude);
  const sentences: GrammarSentence[] = [];
  for (let attempts = 0; sentences.length < count; attempts++) {
    if (attempts > count * 50 + 1000) {
      throw new RangeError(`the sentence grammar produced only ${sentences.length} distinct sentences of ${count}`);
    }
    const sentence = generate(random);
    if (seen.has(sentence.spoken)) continue;
    seen.add(sentence.spoken);
    sentences.push(sentence);
  }
  return sentences;
}
