/**
 * Transcription for the API process, run in a forked process (./child.ts) so that a LibTorch abort, an
 * OOM kill or a segfault while decoding ends that process and never the API. The process is started by
 * the first request and kept warm with its loaded model; requests go to it one at a time. When it dies
 * during a request, that request fails with E_TRANSCRIBER_CRASHED and the next request starts a new one.
 */

import { AddonChild, describeExit, reportedError, type ChildExit } from '../child-process/index.js';
import type { AsrConfig } from '../config/schema.js';
import type { TranscribeOptions, WeightsKind } from '../native/index.js';
import { AsrTrainerError } from '../errors.js';
import type { Log } from '../log.js';
import type { TranscribeTarget } from './index.js';
import type { ParentToTranscriber, TranscriberToParent } from './ipc.js';

export interface TranscriptionProcessOptions {
  /** Extra environment for the transcription process. */
  env?: NodeJS.ProcessEnv;
  /** Where the process's stderr lines and its exits are reported (the server's log). */
  log?: Log;
}

export interface FilesTranscription {
  /** The checkpoint file that decoded the audio. */
  checkpoint: string;
  /** Which of its weights: 'ema' when it holds a moving average of them. */
  weights: WeightsKind;
  /** One text per file, in the order given. */
  texts: string[];
}

interface PendingRequest {
  id: number;
  resolve: (result: FilesTranscription) => void;
  reject: (err: Error) => void;
}

type TranscriberChild = AddonChild<ParentToTranscriber, TranscriberToParent>;

export class TranscriptionProcess {
  private child: TranscriberChild | null = null;
  private inFlight: PendingRequest | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly config: AsrConfig,
    private readonly options: TranscriptionProcessOptions = {},
  ) {}

  /** The transcription process id while one runs (tests and operators use it to signal the process). */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** True while a request is with the process. */
  get busy(): boolean {
    return this.inFlight !== null;
  }

  /** Decodes audio files (any libsndfile format, any rate) with the checkpoint the target resolves to. */
  transcribeFiles(
    target: TranscribeTarget,
    files: string[],
    options: TranscribeOptions = {},
  ): Promise<FilesTranscription> {
    const result = this.queue.then(() => this.dispatch(target, files, options));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Ends the process (if one runs) and refuses later requests; resolves once it has exited. */
  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    await child.ended;
  }

  private dispatch(target: TranscribeTarget, files: string[], options: TranscribeOptions): Promise<FilesTranscription> {
    if (this.closed) {
      return Promise.reject(new AsrTrainerError('E_INTERNAL', 'Transcription is closed: the server is shutting down'));
    }
    const child = this.child ?? this.spawn();
    return new Promise<FilesTranscription>((resolve, reject) => {
      const id = this.nextId++;
      this.inFlight = { id, resolve, reject };
      this.send(child, { cmd: 'transcribe', id, target, files, options });
    });
  }

  private spawn(): TranscriberChild {
    const child: TranscriberChild = AddonChild.fork(
      { callerUrl: import.meta.url, name: 'child', env: { ...process.env, ...this.options.env } },
      {
        onLine: (stream, line) => this.options.log?.(stream === 'stderr' ? 'warning' : 'info', `[transcriber] ${line}`),
        onMessage: (message) => this.onMessage(message),
        onClose: (exit) => this.onExit(child, exit),
        onError: (err) => this.options.log?.('error', `Transcription process error: ${err.message}`),
      },
    );
    this.child = child;
    this.send(child, { cmd: 'init', config: this.config });
    return child;
  }

  private send(child: TranscriberChild, message: ParentToTranscriber): void {
    // A process that is already gone answers through onExit, which fails the request in flight.
    child.send(message, (err) => this.options.log?.('warning', `Transcription request not delivered: ${err.message}`));
  }

  private onMessage(message: TranscriberToParent): void {
    const request = this.inFlight;
    if (!request || request.id !== message.id) return;
    this.inFlight = null;
    if (message.kind === 'result')
      request.resolve({ checkpoint: message.checkpoint, weights: message.weights, texts: message.texts });
    else request.reject(reportedError(message.error));
  }

  private onExit(child: TranscriberChild, exit: ChildExit): void {
    if (child !== this.child) return;
    this.child = null;
    const request = this.inFlight;
    this.inFlight = null;
    if (this.closed) {
      request?.reject(
        new AsrTrainerError('E_INTERNAL', 'Transcription was closed during this request: the server is shutting down'),
      );
      return;
    }
    const how = describeExit(exit);
    if (!request) {
      this.options.log?.('warning', `The transcription process ${how} while idle; the next request starts a new one`);
      return;
    }
    this.options.log?.('error', `The transcription process ${how} during a request; the next request starts a new one`);
    request.reject(
      child.deathError(
        'E_TRANSCRIBER_CRASHED',
        `The transcription process ${how} during this request; send it again: the next request restarts the process`,
      ),
    );
  }
}
