/**
 * A LibriSpeech split folder (`train-clean-100/`, `test-other/`, ...): `<speaker>/<chapter>/` folders, each
 * with `<speaker>-<chapter>.trans.txt` (`<id> <TRANSCRIPT>` a line) beside `<id>.flac`.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { manifestLineError, numberedLines, readManifest, type SourceContents } from './corpus-utterance.js';

const TRANSCRIPT_SUFFIX = '.trans.txt';

export function readLibriSpeechSplit(folder: string): SourceContents {
  const transcripts = transcriptFiles(folder);
  const contents: SourceContents = { utterances: [], skipped: [] };
  for (const file of transcripts) {
    const text = readManifest(file, 'Check that the LibriSpeech folder was unpacked whole.');
    for (const { line, text: row } of numberedLines(text)) {
      const match = /^(\S+)(?:\s+(.*))?$/.exec(row.trim());
      if (!match) {
        throw manifestLineError(file, line, 'expected "<id> <TRANSCRIPT>"', row, 'Fix or remove the line.');
      }
      const [, id, transcript = ''] = match;
      contents.utterances.push({ id, audioPath: path.join(path.dirname(file), `${id}.flac`), transcript });
    }
  }
  return contents;
}

/** Every `*.trans.txt` under `folder` (LibriSpeech nests them two levels down), in a stable order. */
export function transcriptFiles(folder: string): string[] {
  const entries = readdirSync(folder, { recursive: true, encoding: 'utf8' });
  return entries
    .filter((entry) => entry.endsWith(TRANSCRIPT_SUFFIX))
    .sort()
    .map((entry) => path.join(folder, entry));
}
