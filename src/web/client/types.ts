/** The shapes of the HTTP and WebSocket contract (ARCHITECTURE.md §3–4) as the page reads them. */

export type TrainState = 'idle' | 'starting' | 'running' | 'stopping' | 'completed' | 'failed' | 'stopped';

export interface TrainStatus {
  state: TrainState;
  run_id: string | null;
  model_name: string | null;
  dataset_name: string | null;
  epoch: number | null;
  epochs: number | null;
  step: number | null;
  loss: number | null;
  lr: number | null;
  resumed_from: string | null;
  global_step?: number | null;
  error?: RunFailure | string | null;
}

export interface RunFailure {
  message: string;
  code?: string;
  signal?: string | null;
  exit_code?: number | null;
  last_logs?: string[];
}

export interface Progress {
  run_id: string;
  epoch: number;
  step: number;
  global_step: number;
  steps_per_epoch: number;
  loss: number;
  lr: number;
  utterances_per_s: number;
}

export interface EpochMetrics {
  epoch: number;
  val_loss: number;
  val_cer: number;
  val_wer: number;
}

export interface LogLine {
  level: 'debug' | 'info' | 'warning' | 'error';
  message: string;
  timestamp: string;
}

export interface CheckpointEvent {
  name: string;
  epoch: number;
  step: number;
  size_mb: number;
}

export interface CheckpointInfo {
  name: string;
  model_name: string;
  dataset_name: string;
  epoch: number;
  step: number;
  size_mb: number;
  created_at: string;
  metrics?: Record<string, number | null> | null;
  is_latest: boolean;
  is_best: boolean;
  /** False for a `.pt` without a valid sidecar (incomplete or corrupt); `problem` says what is wrong. */
  valid?: boolean;
  problem?: string;
}

export type ServerMessage =
  | { type: 'status'; payload: TrainStatus }
  | { type: 'progress'; payload: Progress }
  | { type: 'metrics'; payload: EpochMetrics }
  | { type: 'log'; payload: LogLine }
  | { type: 'checkpoint'; payload: CheckpointEvent };

export interface StartRequest {
  model_name: string;
  dataset_name: string;
  epochs?: number;
  batch_size?: number;
  lightweight?: boolean;
  limit_samples?: number;
  resume_from_checkpoint?: boolean;
  specific_checkpoint?: string;
}

export interface StartResponse {
  status: 'started';
  run_id: string;
  resumed_from: string | null;
  start_epoch: number;
  epochs: number;
}
