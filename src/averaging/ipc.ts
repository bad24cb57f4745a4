import type { ErrorMessage } from '../child-process/index.js';
import type { AsrConfig } from '../config/schema.js';
import type { AverageSummary } from '../native/index.js';
import type { ValidationScore } from './evaluate.js';

/** What the averaging process is asked to do: average `inputs` into `output`, then score it. */
export interface AverageJob {
  config: AsrConfig;
  /** Absolute paths, in epoch order (the output carries the last one's position). */
  inputs: string[];
  output: string;
  /** Whose validation split scores the average. */
  dataset_name: string;
  /** Validation batches (the inputs' batch_size, so the figure compares with theirs). */
  batch_size: number;
}

/** Messages between averageInProcess() and its process (child_process IPC, advanced serialization). */
export type ParentToAverager = { cmd: 'average'; job: AverageJob };

export type AveragerToParent =
  | {
      kind: 'result';
      summary: AverageSummary;
      /** null: the dataset has no validation utterances. */
      score: ValidationScore | null;
    }
  | ErrorMessage;
