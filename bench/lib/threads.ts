/**
 * Each side runs at its best measured thread count: a short calibration steps xs on the 8 × 4 s batch
 * at every candidate count, alternating sides, and keeps each side's fastest. On a quiet machine that
 * is all cores; on a loaded one a single thread can win by a wide margin (every OpenMP barrier waits
 * for a descheduled thread).
 */
import type { NativeAddon } from '../../src/native/index.js';
import type { BenchBatch } from './corpus.js';
import type { ReferenceWorker } from './reference.js';
import { summarize } from './stats.js';

export interface ThreadChoice {
  project: number;
  reference: number;
  /** Median ms per step for each candidate, per side. */
  measured: { threads: number; project_ms: number; reference_ms: number }[];
}

export async function calibrateThreads(
  addon: NativeAddon,
  ref: ReferenceWorker,
  batch: BenchBatch,
  candidates: number[],
): Promise<ThreadChoice> {
  const measured: ThreadChoice['measured'] = [];
  for (const threads of candidates) {
    const trainer = new addon.Trainer(addon.modelPreset('xs'), { threads, seed: 0 });
    await trainer.train(batch.store, [batch.indices]);
    const p = await trainer.train(batch.store, [batch.indices, batch.indices, batch.indices]);
    await ref.call({ cmd: 'threads', n: threads });
    await ref.call({ cmd: 'model', preset: 'xs', seed: 0 });
    await ref.call({ cmd: 'steps', batch: batch.name, n: 1 });
    const r = await ref.call({ cmd: 'steps', batch: batch.name, n: 3 });
    measured.push({
      threads,
      project_ms: summarize(p.steps.map((s) => s.seconds * 1000)).median,
      reference_ms: summarize((r.seconds as number[]).map((s) => s * 1000)).median,
    });
  }
  const best = (key: 'project_ms' | 'reference_ms'): number =>
    measured.reduce((a, b) => (b[key] < a[key] ? b : a)).threads;
  const choice = { project: best('project_ms'), reference: best('reference_ms'), measured };
  await ref.call({ cmd: 'threads', n: choice.reference });
  addon.setThreads(choice.project);
  return choice;
}
