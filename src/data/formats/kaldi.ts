/**
 * A Kaldi data directory: `wav.scp` (`<recording> <audio path>`), `text` (`<utterance> <transcript>`) and,
 * when recordings are long, `segments` (`<utterance> <recording> <start> <end>`, seconds; end -1 = the
 * file's end). `utt2spk` is not needed for CTC training and not read. Relative paths resolve against the
 * directory. Pipe commands (`... |`) and ark offsets are Kaldi's own I/O and are refused with the fix.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { manifestLineError, numberedLines, readManifest, type SourceContents } from './corpus-utterance.js';

export function readKaldiDir(dir: string): SourceContents {
  const fix = (file: string) => `A Kaldi data directory needs ${file} (see the README's "Your corpus").`;
  const recordings = keyedLines(path.join(dir, 'wav.scp'), fix('wav.scp'), (file, line, key, rest, row) => {
    if (rest.endsWith('|') || /\.ark:\d+$/.test(rest)) {
      throw manifestLineError(
        file,
        line,
        'a pipe command or ark offset, which only Kaldi can run',
        row,
        'List the audio file itself (wav, flac, ogg, opus or mp3 are read directly).',
      );
    }
    if (rest === '')
      throw manifestLineError(file, line, `recording ${key} has no path`, row, 'Fix or remove the line.');
    return path.resolve(dir, rest);
  });
  const texts = keyedLines(path.join(dir, 'text'), fix('text'), (_file, _line, _key, rest) => rest);
  const contents: SourceContents = { utterances: [], skipped: [] };
  const segmentsFile = path.join(dir, 'segments');
  if (!existsSync(segmentsFile)) {
    for (const [id, transcript] of texts) {
      const audioPath = recordings.get(id);
      if (audioPath === undefined) contents.skipped.push({ id, reason: 'not in wav.scp' });
      else contents.utterances.push({ id, audioPath, transcript });
    }
    return contents;
  }
  const segments = keyedLines(segmentsFile, fix('segments'), (file, line, key, rest, row) => {
    const [recording, start, end, ...extra] = rest.split(/\s+/);
    const from = Number(start);
    const to = Number(end);
    if (extra.length > 0 || end === undefined || !(from >= 0) || !(to === -1 || to > from)) {
      throw manifestLineError(
        file,
        line,
        `expected "<utterance> <recording> <start> <end>" with 0 <= start < end (or end -1) for ${key}`,
        row,
        'Fix or remove the line.',
      );
    }
    return { recording, offset: from, duration: to === -1 ? 0 : to - from };
  });
  for (const [id, transcript] of texts) {
    const segment = segments.get(id);
    const audioPath = segment && recordings.get(segment.recording);
    if (segment === undefined) contents.skipped.push({ id, reason: 'not in segments' });
    else if (audioPath === undefined)
      contents.skipped.push({ id, reason: `recording ${segment.recording} not in wav.scp` });
    else contents.utterances.push({ id, audioPath, offset: segment.offset, duration: segment.duration, transcript });
  }
  return contents;
}

/** A Kaldi table (`<key> <rest>` a line) as a map, each rest parsed by `parse`; a repeated key fails. */
function keyedLines<T>(
  file: string,
  fix: string,
  parse: (file: string, line: number, key: string, rest: string, row: string) => T,
): Map<string, T> {
  const table = new Map<string, T>();
  const firstLine = new Map<string, number>();
  for (const { line, text } of numberedLines(readManifest(file, fix))) {
    const [, key, rest = ''] = /^\s*(\S+)\s*(.*?)\s*$/.exec(text) ?? [];
    const earlier = firstLine.get(key);
    if (earlier !== undefined) {
      throw manifestLineError(file, line, `${key} already appeared on line ${earlier}`, text, 'Keep one line per key.');
    }
    firstLine.set(key, line);
    table.set(key, parse(file, line, key, rest, text));
  }
  return table;
}
