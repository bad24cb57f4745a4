import type { AsrConfig } from '../config/schema.js';
import type { TrainingEvent } from '../contract/index.js';
import type { RunPlan } from './plan.js';

/**
 * Messages between the supervisor and its trainer process (child_process IPC, advanced serialization).
 * The supervisor plans and sends the plan, so the checkpoint is resolved (and its sha256 checked) once.
 * The trainer reports events and its lifecycle (prepared, done, error); the status is the supervisor's.
 */
export type ParentToChild = { cmd: 'start'; config: AsrConfig; plan: RunPlan } | { cmd: 'stop' };

/** Every event but `status`: the supervisor derives the state from this lifecycle and the process's exit. */
export type ReportedEvent = Exclude<TrainingEvent, { type: 'status' }>;

export type ChildToParent =
  | { kind: 'prepared' }
  | { kind: 'event'; event: ReportedEvent }
  | { kind: 'done'; state: 'completed' | 'stopped'; reason?: string }
  | { kind: 'error'; code: string; message: string };
