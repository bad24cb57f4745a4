import { Type, type Static } from '@sinclair/typebox';

/**
 * The codes the native core raises (native/core/include/asr/errors.h `asr::codes`); a test keeps the two
 * lists the same set.
 */
export const NATIVE_ERROR_CODES = [
  'E_INVALID_ARGUMENT',
  'E_CHECKPOINT_NOT_FOUND',
  'E_CHECKPOINT_CORRUPT',
  'E_SHAPE_MISMATCH',
  'E_DATASET_NOT_FOUND',
  'E_AUDIO_READ',
  'E_CUDA_UNAVAILABLE',
  'E_IO',
  'E_CANCELLED',
  'E_DISTRIBUTED',
  'E_INTERNAL',
] as const;

/** Every code an AsrTrainerError carries: the native ones and those only TypeScript raises. */
export const ERROR_CODES = [
  ...NATIVE_ERROR_CODES,
  'E_CONFIG_INVALID',
  'E_NO_CHECKPOINT',
  'E_CHECKPOINT_INCOMPATIBLE',
  'E_CHECKPOINT_PAST_EPOCHS',
  'E_DATASET_INVALID',
  'E_UNKNOWN_MODEL',
  'E_UNKNOWN_DATASET',
  'E_LOCKED',
  'E_TRAINING_IN_PROGRESS',
  'E_NOT_RUNNING',
  'E_TRANSCRIBER_CRASHED',
  'E_NATIVE_LOAD',
] as const;
export type AsrErrorCode = (typeof ERROR_CODES)[number];

/** True for one of ERROR_CODES: a code that arrives from another process is checked, not trusted. */
export function isAsrErrorCode(value: unknown): value is AsrErrorCode {
  return ERROR_CODES.some((code) => code === value);
}

/** Codes only the HTTP layer produces (no module throws them). */
export const HTTP_ERROR_CODES = [
  'E_UNAUTHORIZED',
  'E_ROUTE_NOT_FOUND',
  'E_UNSUPPORTED_MEDIA_TYPE',
  'E_PAYLOAD_TOO_LARGE',
  'E_BAD_REQUEST',
  'E_UPGRADE_REQUIRED',
] as const;
export type HttpErrorCode = (typeof HTTP_ERROR_CODES)[number];

/** Every error response: `{statusCode, error, message, code}` (src/server/errors.ts builds it). */
export const ErrorBodySchema = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String({ description: 'the HTTP reason phrase' }),
  message: Type.String({ description: 'what went wrong and what to do about it' }),
  code: Type.String({ description: 'a stable code such as E_NO_CHECKPOINT; switch on it, not on the message' }),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type ErrorBody = Static<typeof ErrorBodySchema>;
