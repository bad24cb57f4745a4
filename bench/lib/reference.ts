/**
 * The reference side: one long-lived bench/reference/bench_worker.py (Debian's python3-torch and
 * torchaudio on the same LibTorch), driven by JSON lines so it can alternate with the project's steps
 * in the same run without paying Python's start-up per repetition.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import type { BenchBatch } from './corpus.js';

export const PYTHON = process.env.ASR_BENCH_PYTHON ?? '/usr/bin/python3';
const WORKER = fileURLToPath(new URL('../reference/bench_worker.py', import.meta.url));

/**
 * glibc settings equal to what the project's trainer process has: the thresholds it sets in-process
 * (keep_freed_memory in native/core/src/runtime.cpp) and the one arena it starts with (src/child-process/fork-entry.ts),
 * for `npm run bench -- --reference-malloc keep`.
 */
export const REFERENCE_KEEP_FREED_MEMORY: Record<string, string> = {
  MALLOC_MMAP_THRESHOLD_: String(1 << 30),
  MALLOC_TRIM_THRESHOLD_: String(1 << 30),
  MALLOC_ARENA_MAX: '1',
};

/** The worker's JSON answer and events; each suite reads the fields its command returns. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type WorkerJson = Record<string, any>;
export type Answer = { ok: true; [key: string]: unknown } & WorkerJson;

export class ReferenceWorker {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: Array<{
    resolve: (a: Answer) => void;
    reject: (e: Error) => void;
    onEvent?: (e: WorkerJson) => void;
  }> = [];
  private stderr = '';

  /** extraEnv: e.g. REFERENCE_KEEP_FREED_MEMORY, the project's allocator settings for the reference. */
  constructor(
    readonly threads: number,
    extraEnv: Record<string, string> = {},
  ) {
    // The bench process itself runs with the trainer's one arena (bench/run.ts); the reference gets only
    // the allocator settings it is given, glibc's defaults otherwise.
    const inherited = { ...process.env };
    delete inherited.MALLOC_ARENA_MAX;
    // OpenBLAS (openmp build) and LibTorch share one OpenMP pool; its size is the torch thread count.
    this.child = spawn(PYTHON, [WORKER, '--threads', String(threads)], {
      env: { ...inherited, ...extraEnv, OMP_NUM_THREADS: String(threads) },
    });
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.child.on('exit', (code) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`reference worker exited (${code}): ${this.stderr}`));
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as Record<string, unknown>;
      const head = this.waiting[0];
      if (!head) return;
      if ('event' in msg) {
        head.onEvent?.(msg);
        return;
      }
      this.waiting.shift();
      if (msg.ok) head.resolve(msg as Answer);
      else head.reject(new Error(`reference: ${String(msg.error)}`));
    });
  }

  /** Sends one command; resolves with its answer (events before it go to onEvent). */
  call<Event extends object = WorkerJson>(cmd: Record<string, unknown>, onEvent?: (e: Event) => void): Promise<Answer> {
    return new Promise((resolve, reject) => {
      // The worker's events carry what the command's caller declared; JSON is checked by its reader.
      this.waiting.push({ resolve, reject, onEvent: onEvent as ((e: WorkerJson) => void) | undefined });
      this.child.stdin.write(JSON.stringify(cmd) + '\n');
    });
  }

  /** Hands the worker a batch's audio and texts under the batch's name, for later commands to use. */
  async addBatch(b: Pick<BenchBatch, 'name' | 'audioFile' | 'samples' | 'texts'>): Promise<void> {
    await this.call({
      cmd: 'batch',
      name: b.name,
      audio: b.audioFile,
      lengths: b.samples.map((s) => s.length),
      texts: b.texts,
    });
  }

  close(): void {
    this.child.stdin.end();
  }
}
