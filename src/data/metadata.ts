/**
 * LJSpeech's metadata.csv: `ID|Transcription|Normalized Transcription`, one utterance a line, split on
 * `|` with no quoting at all — the transcripts contain `"` freely, so a CSV parser would misread them.
 */
import { readFileSync } from 'node:fs';
import { AsrTrainerError } from '../errors.js';

export interface MetadataEntry {
  id: string;
  /** The normalised transcription (third column), or the second when the third is empty or absent. */
  transcript: string;
  /** 1-based line in the file, for messages. */
  line: number;
}

// Ids become file names (wavs/<ID>.wav) and cache keys: no path separators, no leading dot.
const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * Parses metadata text. Blank lines are skipped; 2 fields (`ID|Text`) are accepted as well as LJSpeech's
 * 3. Anything else — more fields, an empty or unsafe id, no transcript, a repeated id — fails with
 * E_DATASET_INVALID at `file:line`.
 */
export function parseMetadata(text: string, file: string): MetadataEntry[] {
  const entries: MetadataEntry[] = [];
  const firstLineOf = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((rawLine, index) => {
    const lineNumber = index + 1;
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '') return;
    const fail = (why: string): never => {
      throw new AsrTrainerError(
        'E_DATASET_INVALID',
        `${file}:${lineNumber}: ${why}. The line reads: ${preview(line)}`,
        {
          file,
          line: lineNumber,
        },
      );
    };
    const fields = line.split('|');
    if (fields.length < 2 || fields.length > 3) {
      fail(`expected ID|Transcription|Normalized Transcription (3 fields split by "|"), found ${fields.length}`);
    }
    const id = fields[0].trim();
    if (id === '') fail('the ID (first field) is empty');
    if (!ID_PATTERN.test(id)) fail(`the ID ${JSON.stringify(id)} may hold only letters, digits, "_", "-" and "."`);
    const normalized = (fields[2] ?? '').trim();
    const transcript = normalized !== '' ? normalized : fields[1].trim();
    if (transcript === '') fail(`utterance ${id} has no transcription`);
    const earlier = firstLineOf.get(id);
    if (earlier !== undefined) fail(`the ID ${id} already appeared on line ${earlier}`);
    firstLineOf.set(id, lineNumber);
    entries.push({ id, transcript, line: lineNumber });
  });
  return entries;
}

/** Reads and parses a metadata.csv file. */
export function readMetadata(file: string): MetadataEntry[] {
  return parseMetadata(readFileSync(file, 'utf8'), file);
}

function preview(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 77)}...` : line);
}
