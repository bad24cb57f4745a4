/**
 * Speaking planned clips with espeak-ng into `wavs/<id>.wav` (22050 Hz 16-bit mono, checked), a few
 * processes at a time. espeak-ng writes the same bytes for the same text and settings, which is what keeps
 * a generated corpus reproducible.
 */
import { spawn } from 'node:child_process';
import { existsSync, renameSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { AsrTrainerError } from '../errors.js';
import type { Speaker } from './corpus-voices.js';
import { readWavInfo } from './wav-header.js';

export const SPOKEN_SAMPLE_RATE = 22050;

/** One clip of a generated corpus: its metadata row's two text forms and who speaks it. */
export interface SpokenClip extends Speaker {
  id: string;
  written: string;
  spoken: string;
}

export interface SpeakOptions {
  /** espeak-ng processes at a time (default 2–4 by the core count). */
  concurrency?: number;
  /** espeak-ng binary (default `espeak-ng` on PATH). */
  espeak?: string;
  onProgress?: (done: number, total: number) => void;
}

/** Writes every clip to `wavsDir/<id>.wav`; resolves to the total audio seconds. */
export async function speakClips(
  clips: readonly SpokenClip[],
  wavsDir: string,
  options: SpeakOptions = {},
): Promise<number> {
  const espeak = options.espeak ?? 'espeak-ng';
  const concurrency = options.concurrency ?? Math.min(4, Math.max(2, availableParallelism()));
  let done = 0;
  let audioSeconds = 0;
  await runPool(clips, concurrency, async (clip) => {
    const file = path.join(wavsDir, `${clip.id}.wav`);
    await synthesize(espeak, clip, file);
    const info = readWavInfo(file);
    if (info.sampleRate !== SPOKEN_SAMPLE_RATE || info.channels !== 1 || info.bitsPerSample !== 16) {
      throw new AsrTrainerError(
        'E_INTERNAL',
        `${espeak} wrote ${file} as ${info.sampleRate} Hz, ${info.bitsPerSample}-bit, ${info.channels} channels; a generated corpus needs 22050 Hz 16-bit mono (voice ${clip.voice})`,
      );
    }
    audioSeconds += info.seconds;
    done += 1;
    options.onProgress?.(done, clips.length);
  });
  return audioSeconds;
}

function synthesize(espeak: string, clip: SpokenClip, file: string): Promise<void> {
  const temp = `${file}.tmp`;
  const args = ['-v', clip.voice, '-s', String(clip.rate), '-p', String(clip.pitch), '-w', temp, clip.spoken];
  return new Promise((resolve, reject) => {
    const child = spawn(espeak, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      const hint =
        error.code === 'ENOENT' ? ' Install it with `sudo apt-get install espeak-ng` (scripts/setup.sh does).' : '';
      reject(new AsrTrainerError('E_IO', `Cannot run ${espeak}: ${error.message}.${hint}`));
    });
    child.on('close', (code, signal) => {
      if (code !== 0 || !existsSync(temp)) {
        reject(
          new AsrTrainerError(
            'E_IO',
            `${espeak} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || 'no output file'}`,
          ),
        );
        return;
      }
      renameSync(temp, file);
      resolve();
    });
  });
}

/** Runs `task` over `items`, at most `limit` at a time; the first failure rejects (others finish first). */
async function runPool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const item = items[next++];
      try {
        await task(item);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (failure !== undefined) throw failure;
}
