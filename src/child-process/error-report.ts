/**
 * An AsrTrainerError on its way from a child process to its parent. IPC clones plain data, so the error
 * crosses as its code, message and details and becomes an AsrTrainerError again where it arrives.
 */
import { isAsrErrorCode } from '../contract/errors.js';
import { AsrTrainerError, isAsrTrainerError } from '../errors.js';

export interface ErrorReport {
  /** An AsrErrorCode as the child sent it; the parent checks it against the codes it knows. */
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** How every child says that its work failed; a kind adds what it needs (a request id). */
export interface ErrorMessage {
  kind: 'error';
  error: ErrorReport;
}

/** The child's side: `err` as a message (anything but an AsrTrainerError is E_INTERNAL). */
export function errorMessage(err: unknown): ErrorMessage {
  if (!isAsrTrainerError(err)) {
    return { kind: 'error', error: { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) } };
  }
  return {
    kind: 'error',
    error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) },
  };
}

/**
 * The parent's side: the error the child reported. A code this build does not know (a child of another
 * version) arrives as E_INTERNAL with the reported code in its details, rather than as a code no table maps.
 */
export function reportedError(report: ErrorReport): AsrTrainerError {
  if (isAsrErrorCode(report.code)) return new AsrTrainerError(report.code, report.message, report.details);
  return new AsrTrainerError('E_INTERNAL', report.message, { ...report.details, reported_code: report.code });
}
