/** What a training run reports; the shapes are the contract's (src/contract/events.ts). */
import type { LogLevel, StatusPayload, TrainingEvent } from '../contract/index.js';

export type {
  CheckpointPayload,
  LogLevel,
  LogPayload,
  MetricsPayload,
  ProgressPayload,
  RunFailure,
  StatusPayload,
  TrainingEvent,
  TrainingState,
} from '../contract/index.js';

export function idleStatus(): StatusPayload {
  return {
    state: 'idle',
    run_id: null,
    model_name: null,
    dataset_name: null,
    epoch: null,
    epochs: null,
    step: null,
    global_step: null,
    loss: null,
    lr: null,
    resumed_from: null,
  };
}

export function logEvent(level: LogLevel, message: string): TrainingEvent {
  return { type: 'log', payload: { level, message, timestamp: new Date().toISOString() } };
}
