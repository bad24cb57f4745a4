import type { ErrorMessage } from '../child-process/index.js';
import type { AsrConfig } from '../config/schema.js';
import type { TranscribeOptions, WeightsKind } from '../native/index.js';
import type { TranscribeTarget } from './index.js';

/** Messages between TranscriptionProcess and its process (child_process IPC, advanced serialization). */
export type ParentToTranscriber =
  | { cmd: 'init'; config: AsrConfig }
  | { cmd: 'transcribe'; id: number; target: TranscribeTarget; files: string[]; options: TranscribeOptions };

export type TranscriberToParent =
  /** `texts` in the order of the request's `files`; `checkpoint` is the file that decoded them, `weights` which of its weights. */
  | { kind: 'result'; id: number; checkpoint: string; weights: WeightsKind; texts: string[] }
  | (ErrorMessage & { id: number });
