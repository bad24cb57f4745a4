import { describe, expect, it } from 'vitest';
import { describeDroppedCharacters, DroppedCharacterCounter, normalizeTranscript } from '../../src/data/index.js';

describe('normalizeTranscript', () => {
  it('lower-cases and keeps a-z, apostrophes and single spaces', () => {
    expect(normalizeTranscript("  The  Cat's   HAT ")).toBe("the cat's hat");
  });

  it('maps curly and other apostrophe look-alikes to the ASCII apostrophe', () => {
    expect(normalizeTranscript('don\u2019t won\u2018t it\u02BCs')).toBe("don't won't it's");
  });

  it('drops punctuation, quotes and digits and counts each character', () => {
    const dropped = new DroppedCharacterCounter();
    expect(normalizeTranscript('He said, "Room 101!"', dropped)).toBe('he said room');
    expect(dropped.toJSON()).toEqual({
      total: 7,
      transcripts: 1,
      characters: { '"': 2, '1': 2, ',': 1, '!': 1, '0': 1 },
    });
  });

  it('turns hyphens, dashes, slashes and tabs into word breaks instead of gluing words', () => {
    const dropped = new DroppedCharacterCounter();
    expect(normalizeTranscript('twenty-one\u2014and/or\tso', dropped)).toBe('twenty one and or so');
    expect(dropped.total).toBe(3); // '-', '—', '/': tabs are whitespace, not dropped content
  });

  it('folds accents instead of dropping the letter', () => {
    const dropped = new DroppedCharacterCounter();
    expect(normalizeTranscript('Café Naïve façade', dropped)).toBe('cafe naive facade');
    expect(dropped.total).toBe(0);
  });

  it('counts transcripts that lost characters across calls, and sorts the summary by frequency', () => {
    const dropped = new DroppedCharacterCounter();
    normalizeTranscript('a.b.c.', dropped);
    normalizeTranscript('clean text', dropped);
    normalizeTranscript('x; y.', dropped);
    expect(dropped.transcripts).toBe(2);
    expect(dropped.top()).toEqual([
      ['.', 4],
      [';', 1],
    ]);
    expect(describeDroppedCharacters(dropped.toJSON())).toBe(
      '5 characters outside a-z, apostrophe and space dropped in 2 transcripts: "." 4, ";" 1',
    );
  });

  it('a transcript of digits only normalises to the empty string', () => {
    expect(normalizeTranscript('1843, 1844.')).toBe('');
  });
});
