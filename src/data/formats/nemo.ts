/**
 * A NeMo manifest: JSON lines of `{"audio_filepath", "text", "duration", "offset"?}`. With `offset` the
 * line is the stretch [offset, offset + duration) of the file, so one long recording serves many lines.
 * Relative audio paths resolve against the manifest's folder.
 */
import path from 'node:path';
import { manifestLineError, numberedLines, readManifest, type SourceContents } from './corpus-utterance.js';

const LINE_SHAPE =
  'Each line is one JSON object: {"audio_filepath": "...", "text": "...", "duration": 1.5, "offset": 0}.';

export function readNemoManifest(file: string): SourceContents {
  const text = readManifest(file, "Check the manifest path in the dataset's train/validation/test lists.");
  const folder = path.dirname(file);
  const contents: SourceContents = { utterances: [], skipped: [] };
  for (const { line, text: row } of numberedLines(text)) {
    let entry: unknown;
    try {
      entry = JSON.parse(row);
    } catch (error) {
      throw manifestLineError(file, line, `not JSON (${(error as Error).message})`, row, LINE_SHAPE);
    }
    const fields = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const { audio_filepath: audio, text: transcript, offset, duration } = fields;
    const fail = (problem: string): never => {
      throw manifestLineError(file, line, problem, row, LINE_SHAPE);
    };
    if (typeof audio !== 'string' || audio === '') fail('"audio_filepath" must be a non-empty string');
    if (typeof transcript !== 'string') fail('"text" must be a string');
    if (offset !== undefined && !isSeconds(offset)) fail('"offset" must be a number of seconds >= 0');
    if (duration !== undefined && !isSeconds(duration)) fail('"duration" must be a number of seconds >= 0');
    if (offset !== undefined && duration === undefined) fail('a line with "offset" needs its "duration"');
    const audioPath = path.resolve(folder, audio as string);
    // The path as the manifest writes it (path.relative per line was half the time of a 100k-line read).
    const stem = (audio as string).replace(/\.[^./]*$/, '');
    contents.utterances.push({
      id: offset === undefined ? stem : `${stem}@${offset as number}`,
      audioPath,
      transcript: transcript as string,
      // Without an offset, NeMo's duration is the whole file's, so the file is read whole.
      ...(offset === undefined ? {} : { offset: offset as number, duration: duration as number }),
    });
  }
  return contents;
}

function isSeconds(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
