/**
 * Positions count global batches: a world-2 run stopped and resumed trains the losses of the world-2
 * run that never stopped, bit for bit; and a run stopped at one world size and resumed at another
 * trains every utterance of each epoch exactly once (ASR_TRAINER_TRACE_IDS logs what each rank trained).
 */
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { TrainingEvent } from '../../src/contract/index.js';
import { freePort } from '../helpers/ports.js';
import { describeOrSkip } from '../helpers/skip.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { distributedSkipReason, readTrace, sidecarOf, stepLosses, SupervisedRuns, withWorkers } from './helpers.js';

const TRAIN = 32;
const BATCH = 4;
const STEPS_PER_EPOCH = TRAIN / BATCH;
const trainIds = Array.from({ length: TRAIN }, (_, i) => `TINY-${String(i).padStart(4, '0')}`);
const pair = { model_name: 'conformer', dataset_name: 'ljspeech' };

const checkpointsOf = (events: TrainingEvent[]) =>
  events.filter((e) => e.type === 'checkpoint').map((e) => (e.type === 'checkpoint' ? e.payload : null)!);

describeOrSkip('resuming data-parallel runs', distributedSkipReason(), () => {
  let workspace: TestWorkspace | undefined;
  const open: SupervisedRuns[] = [];
  afterEach(async () => {
    for (const runs of open.splice(0)) await runs.close();
    workspace?.cleanup();
    workspace = undefined;
  });

  async function supervise(nproc: number, traceIds?: string): Promise<SupervisedRuns> {
    const config = withWorkers(workspace!.config, nproc, { master_port: await freePort(), timeout_s: 30 });
    const runs = new SupervisedRuns(config, { traceIds });
    open.push(runs);
    return runs;
  }

  /** Starts the pair's run, stops it after `afterStep` global steps; returns the one checkpoint the stop wrote. */
  async function startAndStop(runs: SupervisedRuns, afterStep: number) {
    const from = runs.events.length;
    await runs.supervisor.start({ ...pair, epochs: 2 });
    await runs.waitFor((e) => e.type === 'progress' && e.payload.global_step >= afterStep, 60_000, from);
    const stopAt = runs.events.length;
    runs.supervisor.stop();
    const end = await runs.finalStatus(from);
    expect(end.state, JSON.stringify(end.error ?? {})).toBe('stopped');
    const saved = checkpointsOf(runs.events.slice(stopAt));
    // Every rank stops at the same global step, and exactly one checkpoint marks it.
    expect(saved).toHaveLength(1);
    expect(saved[0]!.step).toBe(end.step);
    return { saved: saved[0]!, end };
  }

  it('a world-2 stop and resume gives the per-step losses of the uninterrupted world-2 run, bit for bit', async () => {
    workspace = makeWorkspace({ train: TRAIN, val: 4, batchSize: BATCH, epochs: 2 });
    const runs = await supervise(2);
    const reference = await runs.runToEnd({ model_name: 'conformer-ref', dataset_name: 'ljspeech', epochs: 2 });
    expect(reference).toMatchObject({ state: 'completed', world_size: 2 });

    const { saved, end } = await startAndStop(runs, 3);
    expect(sidecarOf(workspace.checkpointsDir, saved.name)).toMatchObject({ world_size: 2, step: end.step });
    const resumed = await runs.runToEnd({ ...pair, epochs: 2 });
    expect(resumed).toMatchObject({ state: 'completed', resumed_from: saved.name, global_step: 2 * STEPS_PER_EPOCH });

    const expected = stepLosses(workspace.runsDir, 'conformer-ref', 'ljspeech');
    const actual = stepLosses(workspace.runsDir, 'conformer', 'ljspeech');
    expect([...actual.keys()].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 2 * STEPS_PER_EPOCH }, (_, i) => i + 1),
    );
    for (const [step, loss] of actual) expect(loss, `global step ${step}`).toBe(expected.get(step));
  });

  /** Every utterance of each epoch trained exactly once, over both world sizes; every global step traced. */
  function expectEachUtteranceOnce(tracePath: string, worldSizes: number[]): void {
    const trace = readTrace(tracePath);
    expect([...new Set(trace.map((t) => t.world_size))].sort()).toEqual([...worldSizes].sort());
    for (const epoch of [1, 2]) {
      const ids = trace.filter((t) => t.epoch === epoch).flatMap((t) => t.ids);
      expect(ids.sort(), `epoch ${epoch}`).toEqual([...trainIds].sort());
    }
    expect([...new Set(trace.map((t) => t.global_step))].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 2 * STEPS_PER_EPOCH }, (_, i) => i + 1),
    );
    // A world's step is one line per rank.
    for (const t of trace) {
      const lines = trace.filter((u) => u.global_step === t.global_step);
      expect(lines.map((u) => u.rank).sort()).toEqual(Array.from({ length: t.world_size }, (_, r) => r));
    }
  }

  for (const [before, after] of [
    [2, 1],
    [1, 2],
  ] as const) {
    it(`resume ${before} → ${after} workers: no utterance repeated or skipped`, async () => {
      workspace = makeWorkspace({ train: TRAIN, val: 4, batchSize: BATCH, epochs: 2 });
      const tracePath = join(workspace.root, 'trace.jsonl');
      const first = await supervise(before, tracePath);
      // Stopped inside epoch 1, so the resume starts mid-epoch at the other world size.
      const { saved } = await startAndStop(first, 2);
      expect(sidecarOf(workspace.checkpointsDir, saved.name)).toMatchObject({ world_size: before });
      await first.close();

      const second = await supervise(after, tracePath);
      const end = await second.runToEnd({ ...pair, epochs: 2 });
      expect(end).toMatchObject({ state: 'completed', world_size: after, resumed_from: saved.name });
      expectEachUtteranceOnce(tracePath, [before, after]);
    });
  }
});
