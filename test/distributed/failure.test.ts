/**
 * A worker that dies takes the group down at once (the other ranks are killed, not left to time out):
 * the run fails naming the rank, its signal and its last lines; with max_restarts the group starts
 * again from the latest valid checkpoint and the run completes.
 */
import { afterEach, expect, it } from 'vitest';
import { isProcessRunning } from '../../src/checkpoints/lock.js';
import { freePort } from '../helpers/ports.js';
import { describeOrSkip } from '../helpers/skip.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { distributedSkipReason, SupervisedRuns, withWorkers } from './helpers.js';

const pair = { model_name: 'conformer', dataset_name: 'ljspeech' };

describeOrSkip('a worker that dies', distributedSkipReason(), () => {
  let workspace: TestWorkspace | undefined;
  let runs: SupervisedRuns | undefined;
  afterEach(async () => {
    await runs?.close();
    workspace?.cleanup();
    runs = workspace = undefined;
  });

  async function supervise(maxRestarts: number, saveEverySteps: number): Promise<SupervisedRuns> {
    workspace = makeWorkspace({ train: 32, val: 4, batchSize: 4, epochs: 2, saveEverySteps });
    // timeout_s far above what the test waits: the survivors must be ended by the supervisor, not by c10d.
    const config = withWorkers(workspace.config, 2, {
      master_port: await freePort(),
      timeout_s: 120,
      max_restarts: maxRestarts,
    });
    runs = new SupervisedRuns(config);
    return runs;
  }

  it('SIGKILL of rank 1: the run fails at once naming rank 1, its signal and its last lines', async () => {
    const runs = await supervise(0, 0);
    await runs.supervisor.start({ ...pair });
    await runs.waitFor((e) => e.type === 'progress' && e.payload.global_step >= 2);
    const pids = runs.supervisor.workerPids;
    expect(pids).toHaveLength(2);
    process.kill(pids[1]!, 'SIGKILL');
    // "At once": rank 0, still waiting on rank 1 in its all-reduce, is ended by the supervisor; its own
    // timeout_s (120) is longer than the wait's deadline, and the failure is rank 1's death, not rank 0's timeout.
    const end = await runs.finalStatus(0, 60_000);
    expect(end).toMatchObject({ state: 'failed', world_size: 2, restarts: 0 });
    expect(end.error).toMatchObject({ rank: 1, signal: 'SIGKILL', exit_code: null });
    expect(end.error!.message).toMatch(/^Rank 1 \(process \d+\) was killed by SIGKILL$/);
    expect(end.error!.last_logs!.length).toBeGreaterThan(0);
    // Rank 1's own lines (its run prints them), not rank 0's.
    expect(end.error!.last_logs!.join('\n')).toMatch(/rank 1 of 2/i);
    expect(pids.filter((pid) => isProcessRunning(pid))).toEqual([]);
  });

  it('with max_restarts 1 the group restarts from the latest checkpoint and the run completes', async () => {
    const runs = await supervise(1, 3);
    await runs.supervisor.start({ ...pair });
    const saved = await runs.waitFor((e) => e.type === 'checkpoint');
    await runs.waitFor((e) => e.type === 'progress' && e.payload.global_step >= 4);
    process.kill(runs.supervisor.workerPids[1]!, 'SIGKILL');
    const end = await runs.finalStatus(0, 90_000);
    expect(end.error ?? null).toBeNull();
    expect(end).toMatchObject({ state: 'completed', world_size: 2, restarts: 1, global_step: 16 });
    const log = runs.logText();
    expect(log).toMatch(
      /Rank 1 \(process \d+\) was killed by SIGKILL; restarting the worker group from the latest valid checkpoint \(restart 1 of 1\)/,
    );
    const restartLine = /Restart 1: resuming from (\S+), epoch \d/.exec(log);
    expect(restartLine).not.toBeNull();
    expect(saved.type === 'checkpoint' && saved.payload.name).toMatch(/^conformer-ljspeech-epoch-1-step-3\.pt$/);
  });
});
