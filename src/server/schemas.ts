import { Type } from '@sinclair/typebox';

/** Every error response: `{statusCode, error, message, code}` (src/server/errors.ts builds it). */
export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
  code: Type.String(),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
