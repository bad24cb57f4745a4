/**
 * The pre-started trainer (src/training/spare-trainer.ts) as a real process: it loads LibTorch while it
 * waits, then pages in the heap it was asked for, so the run it is given does not page-fault it in.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';

import { SpareTrainer } from '../../src/training/spare-trainer.js';
import { waitUntil } from '../helpers/wait.js';

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

describe('a pre-started trainer', () => {
  const spares: SpareTrainer[] = [];
  afterEach(() => {
    for (const spare of spares.splice(0)) spare.discard();
  });

  it('pages in the heap it is asked for while it waits, and only then', async () => {
    const cold = SpareTrainer.start(process.env, 0);
    spares.push(cold);
    await waitUntil('the cold spare to load LibTorch', () => hasLoadedLibTorch(cold.pid!));
    // The warmed one starts only now: by the time it has paged its heap in, the cold one has had a whole
    // process start's worth of time past the point where it would have paged in its own (no fixed sleep).
    const warm = SpareTrainer.start(process.env, 300 * MiB);
    spares.push(warm);
    // Within a few MB of the size asked for in all (its start-up heap's untouched free parts may stay out).
    await waitUntil('the warmed spare to page its heap in', () => heapResidentBytes(warm.pid!) >= 290 * MiB);
    // Node and LibTorch alone: ~50 MB.
    expect(heapResidentBytes(cold.pid!)).toBeLessThan(120 * MiB);
  }, 120_000);
});
