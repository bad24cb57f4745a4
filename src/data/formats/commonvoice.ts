/**
 * A Common Voice release: `train.tsv`, `dev.tsv`, `test.tsv` (tab-separated, a header row naming the
 * columns; `path` and `sentence` are read) beside `clips/` with the mp3 files the `path` column names.
 */
import path from 'node:path';
import { manifestLineError, numberedLines, readManifest, type SourceContents } from './corpus-utterance.js';

export const COMMON_VOICE_CLIPS = 'clips';
const NEEDED_COLUMNS = ['path', 'sentence'] as const;

export function readCommonVoiceTsv(file: string): SourceContents {
  const lines = numberedLines(readManifest(file, 'Check the Common Voice folder and the split names.'));
  const contents: SourceContents = { utterances: [], skipped: [] };
  if (lines.length === 0) return contents;
  const header = lines[0].text.split('\t');
  const column = Object.fromEntries(NEEDED_COLUMNS.map((name) => [name, header.indexOf(name)]));
  const missing = NEEDED_COLUMNS.filter((name) => column[name] < 0);
  if (missing.length > 0) {
    throw manifestLineError(
      file,
      lines[0].line,
      `the header row lacks the column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
      lines[0].text,
      'A Common Voice tsv starts with a header row naming its columns (client_id, path, sentence, ...).',
    );
  }
  const clips = path.join(path.dirname(file), COMMON_VOICE_CLIPS);
  const fieldsNeeded = Math.max(column.path, column.sentence) + 1;
  for (const { line, text } of lines.slice(1)) {
    const fields = text.split('\t');
    const clip = fields[column.path]?.trim() ?? '';
    if (fields.length < fieldsNeeded || clip === '') {
      throw manifestLineError(
        file,
        line,
        `expected the ${header.length} tab-separated fields of the header with a path, found ${fields.length}`,
        text,
        'Fix or remove the line.',
      );
    }
    contents.utterances.push({
      id: clip.replace(/\.[^.]*$/, ''),
      audioPath: path.join(clips, clip),
      transcript: fields[column.sentence] ?? '',
    });
  }
  return contents;
}
