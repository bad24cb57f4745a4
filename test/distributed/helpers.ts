/**
 * Data-parallel runs for tests: real worker processes on 127.0.0.1 (a free port per world), each with
 * one thread, under a real TrainingSupervisor whose events are recorded; the files a run leaves
 * (metrics.jsonl, the ASR_TRAINER_TRACE_IDS trace) read back.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AsrConfig } from '../../src/config/schema.js';
import type { StatusPayload, TrainingEvent, TrainRequest } from '../../src/contract/index.js';
import { loadNative } from '../../src/native/index.js';
import { TrainingSupervisor, TRACE_IDS_ENV, type MetricsRecord, type TracedStep } from '../../src/training/index.js';
import type { SkipReason } from '../helpers/skip.js';

/** One thread per worker: two workers on this 2-core machine, as in the tests. */
export const ONE_THREAD = { OMP_NUM_THREADS: '1', OMP_WAIT_POLICY: 'passive' };

/** Why data-parallel tests cannot run here (an addon built without c10d has no world to join), or null. */
export function distributedSkipReason(): SkipReason {
  return loadNative().distributed ? null : 'the addon was built without c10d (install libgloo-dev and rebuild)';
}

/** The config with this node's worker count (the rest of distributed: as configured). */
export function withWorkers<C extends AsrConfig>(
  config: C,
  nproc: AsrConfig['distributed']['nproc_per_node'],
  extra: Partial<AsrConfig['distributed']> = {},
): C {
  return { ...config, distributed: { ...config.distributed, nproc_per_node: nproc, ...extra } };
}

/** A supervisor and everything it emitted; `waitFor` resolves on the first past or future match. */
export class SupervisedRuns {
  readonly supervisor: TrainingSupervisor;
  readonly events: TrainingEvent[] = [];
  private waiters: { match: (e: TrainingEvent) => boolean; resolve: (e: TrainingEvent) => void }[] = [];

  constructor(config: AsrConfig, options: { traceIds?: string; stopTimeoutMs?: number } = {}) {
    const env: NodeJS.ProcessEnv = {
      ...ONE_THREAD,
      ...(options.traceIds ? { [TRACE_IDS_ENV]: options.traceIds } : {}),
    };
    this.supervisor = new TrainingSupervisor(config, { env, stopTimeoutMs: options.stopTimeoutMs });
    this.supervisor.on('event', (event) => {
      this.events.push(event);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(event)) return true;
        w.resolve(event);
        return false;
      });
    });
  }

  waitFor(match: (e: TrainingEvent) => boolean, timeoutMs = 60_000, from = 0): Promise<TrainingEvent> {
    const past = this.events.slice(from).find(match);
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const logs = this.events
          .filter((e) => e.type === 'log')
          .slice(-30)
          .map((e) => (e.type === 'log' ? `${e.payload.level}: ${e.payload.message}` : ''));
        reject(new Error(`no matching event within ${timeoutMs} ms; last log lines:\n${logs.join('\n')}`));
      }, timeoutMs);
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  /** Starts a run and resolves with its final status (completed, stopped or failed). */
  async runToEnd(request: TrainRequest, timeoutMs = 60_000): Promise<StatusPayload> {
    const from = this.events.length;
    await this.supervisor.start(request);
    return this.finalStatus(from, timeoutMs);
  }

  async finalStatus(from: number, timeoutMs = 60_000): Promise<StatusPayload> {
    const end = await this.waitFor(
      (e) => e.type === 'status' && ['completed', 'stopped', 'failed'].includes(e.payload.state),
      timeoutMs,
      from,
    );
    await this.supervisor.waitForExit();
    return end.payload as StatusPayload;
  }

  progress(from = 0): Extract<TrainingEvent, { type: 'progress' }>['payload'][] {
    return this.events
      .slice(from)
      .filter((e): e is Extract<TrainingEvent, { type: 'progress' }> => e.type === 'progress')
      .map((e) => e.payload);
  }

  logText(from = 0): string {
    return this.events
      .slice(from)
      .filter((e): e is Extract<TrainingEvent, { type: 'log' }> => e.type === 'log')
      .map((e) => e.payload.message)
      .join('\n');
  }

  async close(): Promise<void> {
    if (this.supervisor.isBusy()) this.supervisor.stop();
    await this.supervisor.waitForExit();
  }
}

function jsonLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as T);
}

export function readTrace(path: string): TracedStep[] {
  return jsonLines<TracedStep>(path);
}

/** global_step → loss of the step lines of a pair's metrics.jsonl (a resumed run's lines included). */
export function stepLosses(runsDir: string, model: string, dataset: string): Map<number, number> {
  const records = jsonLines<MetricsRecord>(join(runsDir, `${model}-${dataset}`, 'metrics.jsonl'));
  return new Map(records.filter((r) => r.kind === 'step').map((r) => [r.global_step, r.loss]));
}

/** The checkpoint's sidecar, parsed. */
export function sidecarOf(checkpointsDir: string, name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(checkpointsDir, `${name}.json`), 'utf8')) as Record<string, unknown>;
}
