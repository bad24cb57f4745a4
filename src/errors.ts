import type { AsrErrorCode } from './contract/errors.js';

export type { AsrErrorCode };

/**
 * The one error class of the project. Native failures arrive as this class too (the addon is handed
 * it at load), so every caller can switch on `code` rather than parse messages. The codes are the
 * contract's (src/contract/errors.ts).
 */
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
