/**
 * The folder a generated corpus is written to (LJSpeech layout: metadata.csv, wavs/<id>.wav) and its
 * manifest, corpus.json. metadata.csv is the done marker (scripts/setup.sh checks it): removed before the
 * audio is written and written last, so a folder with one holds a whole corpus. A folder whose manifest
 * matches the wanted corpus and has every WAV is reused as it is.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SpokenClip } from './espeak.js';

export const MANIFEST_FILE = 'corpus.json';
const METADATA = 'metadata.csv';

/**
 * The manifest when `out` holds a complete corpus of `clips` whose manifest has every field of `key`
 * with the same value (and the `files` besides metadata.csv); otherwise undefined.
 */
export function completeCorpus<M extends object>(
  out: string,
  key: Partial<M>,
  clips: readonly SpokenClip[],
  files: readonly string[] = [],
): M | undefined {
  try {
    const manifest = JSON.parse(readFileSync(path.join(out, MANIFEST_FILE), 'utf8')) as M;
    const matches = Object.entries(key).every(([field, value]) => manifest[field as keyof M] === value);
    if (!matches || ![METADATA, ...files].every((name) => existsSync(path.join(out, name)))) return undefined;
    const allWavs = clips.every((clip) => {
      const file = path.join(out, 'wavs', `${clip.id}.wav`);
      return existsSync(file) && statSync(file).size > 44;
    });
    return allWavs ? manifest : undefined;
  } catch {
    return undefined;
  }
}

/** Creates `out/wavs`, removes the done marker and every WAV that is not one of `clips`; returns the wavs folder. */
export function prepareCorpusFolder(out: string, clips: readonly SpokenClip[]): string {
  const wavs = path.join(out, 'wavs');
  mkdirSync(wavs, { recursive: true });
  rmSync(path.join(out, METADATA), { force: true });
  const wanted = new Set(clips.map((clip) => `${clip.id}.wav`));
  for (const name of readdirSync(wavs)) {
    if (!wanted.has(name)) rmSync(path.join(wavs, name), { force: true });
  }
  return wavs;
}

/** Writes the manifest, then metadata.csv (`id|written|spoken`, the done marker). */
export function finishCorpusFolder(out: string, manifest: object, clips: readonly SpokenClip[]): void {
  writeAtomically(path.join(out, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  const rows = clips.map((clip) => `${clip.id}|${clip.written}|${clip.spoken}`).join('\n');
  writeAtomically(path.join(out, METADATA), `${rows}\n`);
}

export function writeAtomically(file: string, text: string): void {
  const temp = `${file}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}

/** The manifest's audio figures, in seconds to the millisecond. */
export function audioSummary(audioSeconds: number, clips: number): { audioSeconds: number; meanSeconds: number } {
  return { audioSeconds: round3(audioSeconds), meanSeconds: round3(audioSeconds / clips) };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
