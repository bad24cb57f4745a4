/** An LJSpeech folder: metadata.csv (../metadata.ts) and wavs/<ID>.wav. */
import path from 'node:path';
import { readMetadata } from '../metadata.js';
import type { SourceContents } from './corpus-utterance.js';

export const LJSPEECH_METADATA = 'metadata.csv';
export const LJSPEECH_WAVS = 'wavs';

export function readLjspeechFolder(root: string): SourceContents {
  const utterances = readMetadata(path.join(root, LJSPEECH_METADATA)).map((entry) => ({
    id: entry.id,
    audioPath: path.join(root, LJSPEECH_WAVS, `${entry.id}.wav`),
    transcript: entry.transcript,
  }));
  return { utterances, skipped: [] };
}
