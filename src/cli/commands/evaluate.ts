/**
 * `asr-trainer evaluate`: a checkpoint's CER/WER on named splits of a dataset (the POST /api/evaluate
 * code path, one evaluation process).
 */
import { loadConfig } from '../../config/index.js';
import { evaluateCheckpoint } from '../../evaluation/index.js';
import { formatPercent } from '../progress.js';

export interface EvaluateCommandOptions {
  config?: string;
  model: string;
  dataset: string;
  split: string;
  checkpoint?: string;
  /** A beam width (options.ts beamWidth() has checked it). */
  beam?: number;
  json?: boolean;
}

export async function evaluateCommand(options: EvaluateCommandOptions): Promise<void> {
  const config = loadConfig({ path: options.config });
  const result = await evaluateCheckpoint(config, {
    model_name: options.model,
    dataset_name: options.dataset,
    split: options.split,
    ...(options.checkpoint !== undefined ? { checkpoint: options.checkpoint } : {}),
    ...(options.beam !== undefined ? { beam: options.beam } : {}),
  });
  if (options.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  process.stderr.write(`checkpoint: ${result.checkpoint} (beam ${result.beam})\n`);
  for (const s of result.splits) {
    process.stdout.write(
      `${s.split}\t${s.utterances} utterances\tCER ${formatPercent(s.cer)}\tWER ${formatPercent(s.wer)}\n`,
    );
  }
}
