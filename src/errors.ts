/**
 * The one error class of the project. Native failures arrive as this class too (the addon is handed
 * it at load), so every caller can switch on `code` rather than parse messages.
 */
export type AsrErrorCode =
  | 'E_INVALID_ARGUMENT'
  | 'E_CONFIG_INVALID'
  | 'E_CHECKPOINT_NOT_FOUND'
  | 'E_NO_CHECKPOINT'
  | 'E_CHECKPOINT_CORRUPT'
  | 'E_CHECKPOINT_INCOMPATIBLE'
  | 'E_CHECKPOINT_PAST_EPOCHS'
  | 'E_SHAPE_MISMATCH'
  | 'E_DATASET_NOT_FOUND'
  | 'E_DATASET_INVALID'
  | 'E_UNKNOWN_MODEL'
  | 'E_UNKNOWN_DATASET'
  | 'E_AUDIO_READ'
  | 'E_CUDA_UNAVAILABLE'
  | 'E_IO'
  | 'E_LOCKED'
  | 'E_TRAINING_IN_PROGRESS'
  | 'E_NOT_RUNNING'
  | 'E_CANCELLED'
  | 'E_TRANSCRIBER_CRASHED'
  | 'E_DISTRIBUTED'
  | 'E_NATIVE_LOAD'
  | 'E_INTERNAL';

export class AsrTrainerError extends Error {
  readonly code: AsrErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: AsrErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AsrTrainerError';
    this.code = code;
    if (details) this.details = details;
  }
}

export function isAsrTrainerError(value: unknown): value is AsrTrainerError {
  return value instanceof AsrTrainerError;
}
