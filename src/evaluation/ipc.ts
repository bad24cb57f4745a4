import type { ErrorMessage } from '../child-process/index.js';
import type { AsrConfig } from '../config/schema.js';
import type { SplitEvaluation } from '../contract/datasets.js';

/** What the evaluation process is asked to do: score `checkpoint_path` on `split` of `dataset_name`. */
export interface EvaluateJob {
  config: AsrConfig;
  dataset_name: string;
  split: string;
  checkpoint_path: string;
  beam: number;
}

/** Messages between evaluateInProcess() and its process (child_process IPC, advanced serialization). */
export type ParentToEvaluator = { cmd: 'evaluate'; job: EvaluateJob };

export type EvaluatorToParent = { kind: 'result'; splits: SplitEvaluation[] } | ErrorMessage;
