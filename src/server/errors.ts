import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { AsrErrorCode, ErrorBody, HttpErrorCode } from '../contract/index.js';
import { isAsrTrainerError } from '../errors.js';

/** The one place an error code becomes an HTTP status. */
export const HTTP_STATUS_BY_CODE: Record<AsrErrorCode | HttpErrorCode, number> = {
  E_INVALID_ARGUMENT: 400,
  E_UNKNOWN_MODEL: 400,
  E_UNKNOWN_DATASET: 400,
  E_BAD_REQUEST: 400,
  E_UNAUTHORIZED: 401,
  E_CHECKPOINT_NOT_FOUND: 404,
  E_NO_CHECKPOINT: 404,
  E_DATASET_NOT_FOUND: 404,
  E_ROUTE_NOT_FOUND: 404,
  E_TRAINING_IN_PROGRESS: 409,
  E_NOT_RUNNING: 409,
  E_LOCKED: 409,
  E_CHECKPOINT_INCOMPATIBLE: 409,
  E_CHECKPOINT_PAST_EPOCHS: 409,
  E_SHAPE_MISMATCH: 409,
  E_CANCELLED: 409,
  // The request is fine but this machine cannot run it (config asks for a GPU it lacks).
  E_CUDA_UNAVAILABLE: 409,
  E_PAYLOAD_TOO_LARGE: 413,
  E_UNSUPPORTED_MEDIA_TYPE: 415,
  E_UPGRADE_REQUIRED: 426,
  E_CHECKPOINT_CORRUPT: 422,
  E_DATASET_INVALID: 422,
  E_AUDIO_READ: 422,
  E_CONFIG_INVALID: 500,
  E_IO: 500,
  E_NATIVE_LOAD: 500,
  // A rank died, never arrived, or a collective timed out: the run failed, the request was fine.
  E_DISTRIBUTED: 500,
  E_INTERNAL: 500,
  // The transcription process died during the request; the API is fine and the next request restarts it.
  E_TRANSCRIBER_CRASHED: 503,
};

export function errorBody(
  code: AsrErrorCode | HttpErrorCode,
  message: string,
  details?: Record<string, unknown>,
): ErrorBody {
  const statusCode = HTTP_STATUS_BY_CODE[code] ?? 500;
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, code, ...(details ? { details } : {}) };
}

/** Fastify's own client errors (parsing, content type, size), by their FST_ code. */
const FASTIFY_CODES: Record<string, HttpErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'E_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'E_BAD_REQUEST',
  FST_ERR_CTP_BODY_TOO_LARGE: 'E_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'E_BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'E_BAD_REQUEST',
  FST_ERR_CTP_INVALID_TYPE: 'E_BAD_REQUEST',
};

export function toErrorBody(err: unknown): ErrorBody {
  if (isAsrTrainerError(err)) return errorBody(err.code, err.message, err.details);
  const fe = err as FastifyError;
  if (fe && fe.validation) return errorBody('E_INVALID_ARGUMENT', fe.message);
  if (fe && typeof fe.code === 'string' && fe.code in FASTIFY_CODES)
    return errorBody(FASTIFY_CODES[fe.code], fe.message);
  if (fe && fe.name === 'SyntaxError')
    return errorBody('E_BAD_REQUEST', `Request body is not valid JSON: ${fe.message}`);
  // Any other client error Fastify raises keeps its 4xx status under our shape.
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return {
      ...errorBody('E_BAD_REQUEST', fe.message),
      statusCode: fe.statusCode,
      error: STATUS_CODES[fe.statusCode] ?? 'Error',
    };
  }
  return errorBody('E_INTERNAL', fe instanceof Error ? fe.message : String(err));
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const body = toErrorBody(err);
    if (body.statusCode >= 500) request.log.error({ err }, 'request failed');
    void reply.code(body.statusCode).type('application/json').send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .send(
        errorBody(
          'E_ROUTE_NOT_FOUND',
          `Route ${request.method} ${request.url.split('?')[0]} not found; see /docs for the API`,
        ),
      );
  });
}

/**
 * Fastify's clientErrorHandler: a request Node's HTTP parser rejects (bad framing, headers over the
 * limit) never reaches a route, so this writes the error shape straight to the socket and closes it.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const statusCode = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const error = STATUS_CODES[statusCode] ?? 'Bad Request';
  const message =
    statusCode === 431
      ? 'Request headers (or the URL) are larger than the server accepts; send a shorter request'
      : statusCode === 408
        ? 'The request took too long to arrive'
        : `Malformed HTTP request (${err.code ?? err.message})`;
  const body = JSON.stringify({ statusCode, error, message, code: 'E_BAD_REQUEST' });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${statusCode} ${error}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
