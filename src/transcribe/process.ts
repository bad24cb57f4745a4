/**
 * Transcription for the API process, run in a forked process (./child.ts) so that a LibTorch abort, an
 * OOM kill or a segfault while decoding ends that process and never the API. The process is started by
 * the first request and kept warm with its loaded model; requests go to it one at a time. When it dies
 * during a request, that request fails with E_TRANSCRIBER_CRASHED and the next request starts a new one.
 */

import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { AsrConfig } from '../config/schema.js';
import type { TranscribeOptions, WeightsKind } from '../native.js';
import { AsrTrainerError, type AsrErrorCode } from '../errors.js';
import { addonProcessEnv, forkEntry } from '../fork-entry.js';
import type { TranscribeTarget } from './index.js';
import type { ParentToTranscriber, TranscriberToParent } from './ipc.js';

export interface TranscriptionProcessOptions {
  /** Extra environment for the transcription process. */
  env?: NodeJS.ProcessEnv;
  /** Where the process's stderr lines and its exits are reported (the server's log). */
  onLog?: (level: 'info' | 'warning' | 'error', message: string) => void;
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

/** Lines of the process's stderr kept for the error of a crash (a LibTorch abort prints its reason there). */
const STDERR_LINES = 10;

export class TranscriptionProcess {
  private child: ChildProcess | null = null;
  private inFlight: PendingRequest | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  private closed = false;
  private stderrTail: string[] = [];

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
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.kill('SIGTERM');
    await exited;
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

  private spawn(): ChildProcess {
    const { entry, execArgv } = forkEntry(import.meta.url, 'child');
    const child = fork(entry, [], {
      execArgv,
      env: addonProcessEnv({ ...process.env, ...this.options.env }),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.child = child;
    this.stderrTail = [];
    for (const [stream, level] of [
      [child.stdout, 'info'],
      [child.stderr, 'warning'],
    ] as const) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        if (!line.trim()) return;
        if (level === 'warning') this.stderrTail = [...this.stderrTail, line].slice(-STDERR_LINES);
        this.options.onLog?.(level, `[transcriber] ${line}`);
      });
    }
    child.on('message', (message: TranscriberToParent) => this.onMessage(message));
    // 'close' (not 'exit'): it waits for stderr to end, so an abort's last lines are in the error.
    child.on('close', (code, signal) => this.onExit(child, code, signal));
    child.on('error', (err) => this.options.onLog?.('error', `Transcription process error: ${err.message}`));
    this.send(child, { cmd: 'init', config: this.config });
    return child;
  }

  private send(child: ChildProcess, message: ParentToTranscriber): void {
    // A process that is already gone answers through onExit, which fails the request in flight.
    if (child.connected)
      child.send(
        message,
        (err) => err && this.options.onLog?.('warning', `Transcription request not delivered: ${err.message}`),
      );
  }

  private onMessage(message: TranscriberToParent): void {
    const request = this.inFlight;
    if (!request || request.id !== message.id) return;
    this.inFlight = null;
    if (message.kind === 'result')
      request.resolve({ checkpoint: message.checkpoint, weights: message.weights, texts: message.texts });
    else request.reject(new AsrTrainerError(message.code as AsrErrorCode, message.message, message.details));
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
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
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    if (!request) {
      this.options.onLog?.('warning', `The transcription process ${how} while idle; the next request starts a new one`);
      return;
    }
    this.options.onLog?.(
      'error',
      `The transcription process ${how} during a request; the next request starts a new one`,
    );
    request.reject(
      new AsrTrainerError(
        'E_TRANSCRIBER_CRASHED',
        `The transcription process ${how} during this request; send it again: the next request restarts the process`,
        { signal, exit_code: code, last_logs: this.stderrTail },
      ),
    );
  }
}
