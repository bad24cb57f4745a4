import type { AsrConfig } from '../config/schema.js';
import type { TrainingEvent } from './events.js';
import type { RunPlan, TrainRequest } from './plan.js';

/** Messages between the supervisor and its trainer process (child_process IPC, advanced serialization). */
export type ParentToChild =
  | { cmd: 'start'; config: AsrConfig; request: TrainRequest; runId: string }
  | { cmd: 'stop' };

export type ChildToParent =
  | { kind: 'prepared'; plan: RunPlan }
  | { kind: 'event'; event: TrainingEvent }
  | { kind: 'done'; state: 'completed' | 'stopped' }
  | { kind: 'error'; code: string; message: string };
