/** Fixtures for the checkpoint store tests: real temp folders, fake `.pt` bytes, a recording log. */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { lutimes, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { CheckpointStore, type CommitResult } from '../../src/checkpoints/index.js';
import type { Log } from '../../src/log.js';
import { writeFakePt } from './fake-addon.js';

export { writeFakePt };

/** A Log that keeps its info and warning lines for the test to read. */
export type RecordingLog = Log & { infos: string[]; warnings: string[] };

export function recordingLog(): RecordingLog {
  const infos: string[] = [];
  const warnings: string[] = [];
  const log: Log = (level, message) => {
    if (level === 'info') infos.push(message);
    if (level === 'warning') warnings.push(message);
  };
  return Object.assign(log, { infos, warnings });
}

const made: string[] = [];
afterEach(async () => {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A fresh temp folder, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'asr-ckpt-'));
  made.push(dir);
  return dir;
}

export async function newStore(): Promise<{ dir: string; store: CheckpointStore; log: RecordingLog }> {
  const dir = await tempDir();
  const log = recordingLog();
  return { dir, store: new CheckpointStore({ dir, log }), log };
}

export interface SaveOptions {
  model?: string;
  dataset?: string;
  epoch: number;
  /** Present: a mid-epoch `…-epoch-N-step-S.pt`. */
  step?: number;
  valCer?: number;
  keep?: number;
  resumedFrom?: string | null;
  bytes?: number;
}

/** Writes a fake `.pt` and commits it, as the trainer does at an epoch end or a stop. */
export async function save(store: CheckpointStore, options: SaveOptions): Promise<CommitResult> {
  const model = options.model ?? 'conformer';
  const dataset = options.dataset ?? 'mini-ljspeech';
  const name = store.checkpointName(model, dataset, options.epoch, options.step);
  await writeFakePt(store.pathOf(name), options.bytes);
  const stepsPerEpoch = 100;
  const inEpoch = options.step ?? stepsPerEpoch;
  return store.commit({
    name,
    model,
    dataset,
    step: inEpoch,
    global_step: (options.epoch - 1) * stepsPerEpoch + inEpoch,
    metrics: options.valCer === undefined ? {} : { val_loss: 1, val_cer: options.valCer, val_wer: 1 },
    config_hash: 'cfg',
    run_id: 'run-test',
    model_config: { d_model: 144, num_layers: 4 },
    batch_size: 16,
    ...(options.keep !== undefined ? { retain: { keep: options.keep, resumedFrom: options.resumedFrom ?? null } } : {}),
  });
}

/** Moves a file's mtime into the past, as a leftover of an earlier crash would be. */
export async function age(filePath: string, seconds = 60): Promise<void> {
  const when = new Date(Date.now() - seconds * 1000);
  await lutimes(filePath, when, when);
}

/** Resolves once the child has exited (at once if it has already). */
export function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** Field 3 of /proc/PID/stat (R, S, Z, …), or null when there is no such process. */
export function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}
