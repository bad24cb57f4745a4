/**
 * `asr-trainer transcribe`: text for WAV files from a trained checkpoint (the /api/transcribe code path).
 * The Transcriber runs in this process, not in a TranscriptionProcess: the command is its own process,
 * so a native crash ends only the command, and a fork would only add start-up time.
 */

import { existsSync } from 'node:fs';
import { loadConfig } from '../../config/index.js';
import { Transcriber } from '../../transcribe/index.js';
import { UsageError } from '../exit.js';

export interface TranscribeOptions {
  config?: string;
  checkpoint?: string;
  model?: string;
  dataset?: string;
  json?: boolean;
  /** A beam width (options.ts beamWidth() has checked it); absent: greedy decoding. */
  beam?: number;
}

export async function transcribeCommand(files: string[], options: TranscribeOptions): Promise<void> {
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0) throw new UsageError(`no such file: ${missing.join(', ')}`);
  const config = loadConfig({ path: options.config });
  const transcriber = await Transcriber.open(config, {
    checkpoint: options.checkpoint,
    model_name: options.model,
    dataset_name: options.dataset,
  });
  const results = await transcriber.transcribeFiles(files, options.beam === undefined ? {} : { beam: options.beam });
  if (options.json) {
    process.stdout.write(
      JSON.stringify(
        {
          checkpoint: transcriber.checkpoint,
          weights: transcriber.weights,
          results: results.map((r) => ({ file: r.id, text: r.text })),
        },
        null,
        2,
      ) + '\n',
    );
    return;
  }
  process.stderr.write(`checkpoint: ${transcriber.checkpoint}\nweights: ${transcriber.weights}\n`);
  for (const r of results) process.stdout.write(files.length > 1 ? `${r.id}\t${r.text}\n` : `${r.text}\n`);
}
