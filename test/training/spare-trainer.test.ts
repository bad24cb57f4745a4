/**
 * The pre-started trainer (src/training/spare-trainer.ts) as a real process: it loads LibTorch while it
 * waits, then pages in the heap it was asked for, so the run it is given does not page-fault it in.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';

import { SpareTrainer } from '../../src/training/spare-trainer.js';

const MiB = 2 ** 20;

/** Resident bytes of process `pid`'s brk heap, where glibc's main arena lives (its `[heap]` in smaps). */
function heapResidentBytes(pid: number): number {
  const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const heap = smaps.indexOf('[heap]\n');
  if (heap < 0) return 0;
  return Number(/^Rss:\s+(\d+) kB/m.exec(smaps.slice(heap))?.[1] ?? 0) * 1024;
}

function hasLoadedLibTorch(pid: number): boolean {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libtorch_cpu');
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a pre-started trainer', () => {
  const spares: SpareTrainer[] = [];
  afterEach(() => {
    for (const spare of spares.splice(0)) spare.discard();
  });

  it('pages in the heap it is asked for while it waits, and only then', async () => {
    const warm = SpareTrainer.start(process.env, 300 * MiB);
    const cold = SpareTrainer.start(process.env, 0);
    spares.push(warm, cold);
    // Within a few MB of the size asked for in all (its start-up heap's untouched free parts may stay out).
    await until(() => heapResidentBytes(warm.pid!) >= 290 * MiB, 60_000, 'the warmed spare paged its heap in');
    await until(() => hasLoadedLibTorch(cold.pid!), 60_000, 'the cold spare loaded LibTorch');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // Node and LibTorch alone: ~50 MB.
    expect(heapResidentBytes(cold.pid!)).toBeLessThan(120 * MiB);
  }, 120_000);
});
