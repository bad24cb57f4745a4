import type { ErrorMessage } from '../child-process/index.js';
import type { AsrConfig } from '../config/schema.js';
import type { TrainingEvent } from '../contract/index.js';
import type { RunPlan } from './plan.js';

/**
 * Messages between the supervisor and its trainer process (child_process IPC, advanced serialization).
 * The supervisor plans and sends the plan, so the checkpoint is resolved (and its sha256 checked) once.
 * The trainer reports events and its lifecycle (prepared, done, error); the status is the supervisor's.
 */
export type ParentToChild =
  | {
      cmd: 'start';
      config: AsrConfig;
      plan: RunPlan;
      /**
       * Set when the trainer was started before the run (./spare-trainer.ts): the folder lock's path, whose
       * descriptor the supervisor has just sent over the trainer's descriptor TRAINER_LOCK_FD.
       */
      sentLockPath?: string;
    }
  | { cmd: 'stop' };

/**
 * The trainer's descriptor 4 (after stdin, stdout, stderr and the IPC channel): the folder lock's open file,
 * inherited at fork, or in a pre-started trainer the socket the lock's descriptor arrives on.
 */
export const TRAINER_LOCK_FD = 4;

/** Bytes of heap a pre-started trainer pages in while it waits (./spare-trainer.ts). */
export const WARM_HEAP_ENV = 'ASR_TRAINER_WARM_HEAP_BYTES';

/** Every event but `status`: the supervisor derives the state from this lifecycle and the process's exit. */
export type ReportedEvent = Exclude<TrainingEvent, { type: 'status' }>;

export type ChildToParent =
  | { kind: 'prepared' }
  | { kind: 'event'; event: ReportedEvent }
  | {
      kind: 'done';
      state: 'completed' | 'stopped';
      reason?: string;
      /** The trainer's heap at the end (its peak): how much the next pre-started trainer warms. */
      heap_bytes?: number;
    }
  | ErrorMessage;
