/**
 * POST /api/transcribe: a WAV body (audio/wav, or multipart/form-data with one or more file parts) →
 * the text, decoded by a checkpoint (`checkpoint` query, default the best of the current or newest run),
 * greedily or with a CTC prefix beam search (`beam` query).
 * The same Transcriber as `asr-trainer transcribe`, run in a TranscriptionProcess (a child process) so that
 * a LibTorch crash there answers this request 503 E_TRANSCRIBER_CRASHED instead of ending the API.
 * Register with `app.register(transcribeRoutes(transcriber))`.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AsrTrainerError } from '../../errors.js';
import type { TranscribeTarget, Transcription } from '../../transcribe/index.js';
import { boundaryOf, multipartFiles } from '../multipart.js';
import type { TranscriptionProcess } from '../../transcribe/process.js';
import type { TranscribeOptions, WeightsKind } from '../../native/index.js';
import { BEAM_RULE, CheckpointNameSchema, ErrorBodySchema, NameSchema, parseBeamWidth } from '../../contract/index.js';

const AUDIO_TYPES = ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave', 'application/octet-stream'];
/** A minute of 16-bit 48 kHz stereo is 11 MB; leave room for a few clips in one multipart body. */
const MAX_AUDIO_BYTES = 50 * 1024 * 1024;

export interface TranscribeRouteOptions {
  /** The model/dataset whose best checkpoint is used when the query names none (the current run's). */
  defaultPair?: () => { model_name: string | null; dataset_name: string | null };
}

export function transcribeRoutes(
  transcriber: TranscriptionProcess,
  options: TranscribeRouteOptions = {},
): FastifyPluginAsyncTypebox {
  return async (app) => {
    // Buffers for the audio types, scoped to this plugin: the rest of the API stays JSON only.
    app.addContentTypeParser(
      [...AUDIO_TYPES, 'multipart/form-data'],
      { parseAs: 'buffer', bodyLimit: MAX_AUDIO_BYTES },
      (_req, body, done) => done(null, body),
    );

    app.post(
      '/api/transcribe',
      {
        bodyLimit: MAX_AUDIO_BYTES,
        schema: {
          summary: 'Transcribe a WAV file with a trained checkpoint',
          description:
            'Body: the WAV bytes (Content-Type audio/wav) or multipart/form-data with file parts. Any rate; resampled to 16 kHz.',
          tags: ['transcribe'],
          querystring: Type.Object(
            {
              checkpoint: Type.Optional(
                CheckpointNameSchema('a name from GET /api/checkpoints, or {model}-{dataset}-best.pt'),
              ),
              model_name: Type.Optional(NameSchema()),
              dataset_name: Type.Optional(NameSchema()),
              // A string: query values are not coerced (see buildApp), and parseBeamWidth() words the 400.
              beam: Type.Optional(Type.String({ maxLength: 16, description: BEAM_RULE })),
            },
            { additionalProperties: false },
          ),
          response: {
            200: Type.Object({
              text: Type.String(),
              checkpoint: Type.String(),
              weights: Type.Optional(
                Type.Union([Type.Literal('ema'), Type.Literal('raw')], {
                  description: "ema: the checkpoint's moving average of the weights decoded (training.ema_decay > 0)",
                }),
              ),
              results: Type.Array(Type.Object({ file: Type.String(), text: Type.String() })),
            }),
            400: ErrorBodySchema,
            401: ErrorBodySchema,
            404: ErrorBodySchema,
            413: ErrorBodySchema,
            415: ErrorBodySchema,
            422: ErrorBodySchema,
            503: ErrorBodySchema,
          },
        },
      },
      async (request) => {
        const decoding = decodingOptions(request.query.beam);
        const body: unknown = request.body;
        const contentType = String(request.headers['content-type'] ?? '');
        const files = audioFiles(body, contentType);
        const pair = options.defaultPair?.() ?? { model_name: null, dataset_name: null };
        const target = {
          checkpoint: request.query.checkpoint ?? null,
          model_name: request.query.model_name ?? pair.model_name,
          dataset_name: request.query.dataset_name ?? pair.dataset_name,
        };
        const { checkpoint, weights, results } = await transcribeBuffers(transcriber, target, files, decoding);
        return {
          text: results.map((r) => r.text).join('\n'),
          checkpoint,
          weights,
          results: results.map((r) => ({ file: r.id, text: r.text })),
        };
      },
    );
  };
}

function decodingOptions(beam: string | undefined): TranscribeOptions {
  if (beam === undefined) return {};
  const width = parseBeamWidth(beam);
  if (width === null) {
    throw new AsrTrainerError('E_INVALID_ARGUMENT', `Invalid beam '${beam}': use ${BEAM_RULE}`, { beam });
  }
  return { beam: width };
}

function audioFiles(body: unknown, contentType: string): Array<{ name: string; data: Buffer }> {
  // Another content type (JSON) arrives parsed, not as bytes.
  if (body !== undefined && !Buffer.isBuffer(body)) {
    throw new AsrTrainerError(
      'E_INVALID_ARGUMENT',
      `Send the WAV bytes as the body with Content-Type audio/wav (or as a multipart file part), not ${contentType || 'this content type'}`,
    );
  }
  if (!body || body.length === 0) {
    throw new AsrTrainerError(
      'E_INVALID_ARGUMENT',
      'Send the WAV bytes as the body (Content-Type: audio/wav) or as a multipart file part',
    );
  }
  if (!contentType.toLowerCase().startsWith('multipart/form-data')) return [{ name: 'audio.wav', data: body }];
  const boundary = boundaryOf(contentType);
  if (!boundary) throw new AsrTrainerError('E_INVALID_ARGUMENT', 'multipart/form-data body without a boundary');
  const parts = multipartFiles(body, boundary);
  if (parts.length === 0) {
    throw new AsrTrainerError(
      'E_INVALID_ARGUMENT',
      'The multipart body has no file part: send the WAV as a file field (e.g. curl -F audio=@clip.wav)',
    );
  }
  return parts.map((p, i) => ({ name: p.filename || p.name || `part-${i}`, data: p.data }));
}

/** The addon reads audio from files (libsndfile), so the bodies go through a private temp folder. */
async function transcribeBuffers(
  transcriber: TranscriptionProcess,
  target: TranscribeTarget,
  files: Array<{ name: string; data: Buffer }>,
  options: TranscribeOptions,
): Promise<{ checkpoint: string; weights: WeightsKind; results: Transcription[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'asr-transcribe-'));
  try {
    const paths = await Promise.all(
      files.map(async (f, i) => {
        const path = join(dir, `${i}.wav`);
        await writeFile(path, f.data);
        return path;
      }),
    );
    const { checkpoint, weights, texts } = await transcriber.transcribeFiles(target, paths, options);
    return { checkpoint, weights, results: texts.map((text, i) => ({ id: files[i].name, text })) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
