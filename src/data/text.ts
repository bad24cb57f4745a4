/**
 * Transcript normalisation to the model's vocabulary (native/core vocab.h): lower-case a–z, the
 * apostrophe and single spaces. Everything else is dropped and counted, so a dataset whose text does
 * not fit the vocabulary is visible rather than silently mangled.
 */

/** Characters outside the vocabulary, counted per character, over one or more transcripts. */
export class DroppedCharacterCounter {
  readonly counts = new Map<string, number>();
  total = 0;
  /** Transcripts that lost at least one character. */
  transcripts = 0;

  add(char: string, count = 1): void {
    this.counts.set(char, (this.counts.get(char) ?? 0) + count);
    this.total += count;
  }

  /** Most frequent first; ties in code-point order, so the summary is stable. */
  top(limit = Infinity): Array<[string, number]> {
    return [...this.counts.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, limit);
  }

  toJSON(): DroppedCharacterStats {
    return { total: this.total, transcripts: this.transcripts, characters: Object.fromEntries(this.top()) };
  }
}

export interface DroppedCharacterStats {
  /** Characters dropped over all transcripts. */
  total: number;
  /** Transcripts that lost at least one character. */
  transcripts: number;
  /** Character → how often it was dropped, most frequent first. */
  characters: Record<string, number>;
}

// Apostrophe look-alikes: typographic quotes and the modifier letter that word processors substitute.
const APOSTROPHES = new Set(['\u2018', '\u2019', '\u201B', '\u02BC', '\u02B9', '\u0060', '\u00B4', '\u2032']);
// Characters that separate words: dropping them would glue words together ("twenty-one" → "twentyone").
const SEPARATORS = /[\s\-\u2010-\u2015/_]/u;
const COMBINING_MARKS = /\p{M}/u;

/**
 * Lower-cases, folds accents (é → e), maps apostrophe look-alikes to `'`, turns whitespace, hyphens,
 * dashes, slashes and underscores into a single space, and drops (and counts into `dropped`) every other
 * character outside a–z and `'`, digits included: spelling numbers out is the dataset's job (LJSpeech's
 * third column does it).
 */
export function normalizeTranscript(text: string, dropped?: DroppedCharacterCounter): string {
  let out = '';
  let pendingSpace = false;
  let lostAny = false;
  for (const original of text) {
    if (SEPARATORS.test(original)) {
      pendingSpace = out.length > 0;
      if (original !== ' ' && !/\s/u.test(original)) {
        dropped?.add(original);
        lostAny = true;
      }
      continue;
    }
    const char = APOSTROPHES.has(original) ? "'" : original;
    // NFKD splits an accented letter into its base and combining marks, and ligatures into letters.
    for (const piece of char.toLowerCase().normalize('NFKD')) {
      if ((piece >= 'a' && piece <= 'z') || piece === "'") {
        if (pendingSpace) out += ' ';
        pendingSpace = false;
        out += piece;
      } else if (!COMBINING_MARKS.test(piece)) {
        dropped?.add(original);
        lostAny = true;
      }
    }
  }
  if (lostAny && dropped) dropped.transcripts += 1;
  return out;
}

/** One line for the log: `412 characters dropped in 97 transcripts: "," 200, "." 150, ...`. */
export function describeDroppedCharacters(stats: DroppedCharacterStats, limit = 12): string {
  const entries = Object.entries(stats.characters);
  const shown = entries
    .slice(0, limit)
    .map(([char, count]) => `${JSON.stringify(char)} ${count}`)
    .join(', ');
  const more = entries.length > limit ? `, and ${entries.length - limit} other characters` : '';
  return `${stats.total} characters outside a-z, apostrophe and space dropped in ${stats.transcripts} transcripts: ${shown}${more}`;
}
