/**
 * The transcription process TranscriptionProcess forks: it keeps one model loaded between requests
 * (reloaded when the resolved checkpoint changes) so a LibTorch abort ends this process, never the API.
 * Requests are answered in arrival order; the process ends with its parent (IPC disconnect).
 */
import { errorMessage, parentChannel } from '../child-process/index.js';
import type { AsrConfig } from '../config/schema.js';
import { resolveTranscribeCheckpoint, Transcriber } from './index.js';
import type { ParentToTranscriber, TranscriberToParent } from './ipc.js';

let config: AsrConfig | null = null;
let loaded: { key: string; transcriber: Transcriber } | null = null;
let queue: Promise<void> = Promise.resolve();
const parent = parentChannel<ParentToTranscriber, TranscriberToParent>();

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
    await parent.send(await transcribe(request));
  } catch (err) {
    await parent.send({ ...errorMessage(err), id: request.id });
  }
}

parent.onMessage((message) => {
  if (message.cmd === 'init') config = message.config;
  else if (message.cmd === 'transcribe') queue = queue.then(() => answer(message));
});
process.on('disconnect', () => process.exit(0));
