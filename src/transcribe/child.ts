/**
 * The transcription process TranscriptionProcess forks: it keeps one model loaded between requests
 * (reloaded when the resolved checkpoint changes) so a LibTorch abort ends this process, never the API.
 * Requests are answered in arrival order; the process ends with its parent (IPC disconnect).
 */
import type { AsrConfig } from '../config/schema.js';
import { isAsrTrainerError } from '../errors.js';
import { resolveTranscribeCheckpoint, Transcriber } from './index.js';
import type { ParentToTranscriber, TranscriberToParent } from './ipc.js';

let config: AsrConfig | null = null;
let loaded: { key: string; transcriber: Transcriber } | null = null;
let queue: Promise<void> = Promise.resolve();

function send(message: TranscriberToParent): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function transcribe(request: Extract<ParentToTranscriber, { cmd: 'transcribe' }>): Promise<TranscriberToParent> {
  if (!config) throw new Error('transcription process got a request before its config');
  const resolved = await resolveTranscribeCheckpoint(config, request.target);
  const key = `${resolved.path}:${resolved.sha256}`;
  if (loaded?.key !== key) {
    loaded = null;
    loaded = { key, transcriber: await Transcriber.open(config, { checkpoint: resolved.name }) };
  }
  const results = await loaded.transcriber.transcribeFiles(request.files, request.options);
  return {
    kind: 'result',
    id: request.id,
    checkpoint: loaded.transcriber.checkpoint,
    weights: loaded.transcriber.weights,
    texts: results.map((r) => r.text),
  };
}

async function answer(request: Extract<ParentToTranscriber, { cmd: 'transcribe' }>): Promise<void> {
  try {
    await send(await transcribe(request));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (isAsrTrainerError(err)) {
      await send({
        kind: 'error',
        id: request.id,
        code: err.code,
        message,
        ...(err.details ? { details: err.details } : {}),
      });
    } else {
      await send({ kind: 'error', id: request.id, code: 'E_INTERNAL', message });
    }
  }
}

process.on('message', (message: ParentToTranscriber) => {
  if (message.cmd === 'init') config = message.config;
  else if (message.cmd === 'transcribe') queue = queue.then(() => answer(message));
});
process.on('disconnect', () => process.exit(0));
