/**
 * What a training run reports. The same shapes travel from the run to the supervisor (IPC), to the
 * WebSocket clients (`{type, payload}`) and into GET /api/train/status — one definition for all three.
 * Rates (CER, WER) are fractions: 0.046 is 4.6 %.
 */
export type TrainingState = 'idle' | 'starting' | 'running' | 'stopping' | 'completed' | 'failed' | 'stopped';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface LogPayload {
  level: LogLevel;
  message: string;
  timestamp: string;
}

export interface ProgressPayload {
  run_id: string;
  epoch: number;
  /** Steps done in this epoch, 1-based after the first step. */
  step: number;
  global_step: number;
  steps_per_epoch: number;
  loss: number;
  lr: number;
  utterances_per_s: number;
}

export interface CheckpointPayload {
  name: string;
  epoch: number;
  step: number;
  size_mb: number;
}

export interface MetricsPayload {
  epoch: number;
  val_loss: number;
  val_cer: number;
  val_wer: number;
}

export interface RunFailure {
  message: string;
  code?: string;
  /** The signal that ended the trainer process, when one did (e.g. "SIGKILL"). */
  signal?: string | null;
  exit_code?: number | null;
  /** The last log lines before the failure, oldest first. */
  last_logs?: string[];
}

export interface StatusPayload {
  state: TrainingState;
  run_id: string | null;
  model_name: string | null;
  dataset_name: string | null;
  epoch: number | null;
  epochs: number | null;
  step: number | null;
  global_step: number | null;
  loss: number | null;
  lr: number | null;
  resumed_from: string | null;
  error?: RunFailure;
}

export type TrainingEvent =
  | { type: 'log'; payload: LogPayload }
  | { type: 'status'; payload: StatusPayload }
  | { type: 'progress'; payload: ProgressPayload }
  | { type: 'checkpoint'; payload: CheckpointPayload }
  | { type: 'metrics'; payload: MetricsPayload };

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
