/**
 * Chaos for data-parallel runs: two real worker processes (one thread each) under a real
 * TrainingSupervisor, with a tiny model and timeout_s 5. A non-zero rank SIGKILLed at random moments
 * of its steps (inside the gradient all-reduce most of the time), rank 0 SIGKILLed while a checkpoint
 * is being written or committed, a rank SIGSTOPped past timeout_s, the rendezvous port taken by
 * another listener, a node-1 rank that never arrives. Every time: no worker process is left (a zombie counts as gone), every checkpoint
 * listed valid matches its sidecar's sha256 and loads, and the next start resumes from the newest
 * valid one and trains to completion.
 */
import { watch, readdirSync, type FSWatcher } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { CheckpointStore } from '../../src/checkpoints/index.js';
import type { StatusPayload } from '../../src/contract/index.js';
import { distributedSkipReason, SupervisedRuns, withWorkers } from '../distributed/helpers.js';
import { freePort } from '../helpers/ports.js';
import { describeOrSkip } from '../helpers/skip.js';
import { sleep, waitUntil } from '../helpers/wait.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { recordFigures } from './summary.js';
import { AddonLoader, chaosSeed, checkFolder, isAlive, seededRandom } from './helpers.js';

const RANK_KILLS = Number(process.env.CHAOS_DIST_KILLS ?? 3);
const COMMIT_KILLS = Number(process.env.CHAOS_DIST_COMMIT_KILLS ?? 2);
const TIMEOUT_S = 5;
/**
 * How long a test waits for a run that lost a rank to fail: a bound on the wait, not a figure (those go to
 * the summary). A timeout_s that was not applied would leave c10d's default of 30 minutes.
 */
const FAILURE_DEADLINE_MS = 120_000;
const pair = { model_name: 'conformer', dataset_name: 'ljspeech' };

/** Every worker pid the supervisor has had, sampled while the test runs. */
class PidWatch {
  readonly seen = new Set<number>();
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly runs: SupervisedRuns) {
    this.timer = setInterval(() => this.sample(), 20);
  }
  sample(): number[] {
    const pids = this.runs.supervisor.workerPids;
    for (const pid of pids) this.seen.add(pid);
    return pids;
  }
  close(): void {
    clearInterval(this.timer);
  }
  /** Waits (bounded) for every seen worker to be gone; returns those still alive. */
  async leftAlive(): Promise<number[]> {
    const alive = () => [...this.seen].filter(isAlive);
    await waitUntil('every worker to be gone', () => alive().length === 0, 30_000).catch(() => undefined);
    return alive();
  }
}

describeOrSkip('chaos in a data-parallel world of 2', distributedSkipReason(), () => {
  let workspace: TestWorkspace | undefined;
  const open: SupervisedRuns[] = [];
  const watches: PidWatch[] = [];
  let blocker: Server | undefined;
  let folderWatch: FSWatcher | undefined;
  const seed = chaosSeed();
  const random = seededRandom(seed);
  const loader = new AddonLoader();

  afterEach(async () => {
    folderWatch?.close();
    await closeBlocker(blocker);
    for (const runs of open.splice(0)) await runs.close();
    for (const w of watches.splice(0)) {
      w.close();
      // A stopped rank is continued so that a kill of it is not left pending.
      for (const pid of w.seen) signal(pid, 'SIGCONT');
      for (const pid of w.seen) if (isAlive(pid)) signal(pid, 'SIGKILL');
    }
    workspace?.cleanup();
    workspace = blocker = folderWatch = undefined;
  });

  async function supervise(options: {
    epochs: number;
    maxRestarts: number;
    port?: number;
    /** Two nodes of one worker, node 1 never started: rank 1 never arrives. */
    missingNode?: boolean;
  }): Promise<SupervisedRuns> {
    workspace ??= makeWorkspace({
      train: 16,
      val: 2,
      batchSize: 4,
      epochs: options.epochs,
      saveEverySteps: 1,
      retention: 3,
    });
    const config = withWorkers(workspace.config, options.missingNode ? 1 : 2, {
      ...(options.missingNode ? { nnodes: 2 } : {}),
      master_port: options.port ?? (await freePort()),
      timeout_s: TIMEOUT_S,
      max_restarts: options.maxRestarts,
    });
    const runs = new SupervisedRuns(config);
    open.push(runs);
    const pids = new PidWatch(runs);
    watches.push(pids);
    return runs;
  }

  /** The valid checkpoint with the highest global step: what a resume must continue from. */
  async function newestValid(): Promise<string | null> {
    const entries = await new CheckpointStore({ dir: workspace!.checkpointsDir, log: () => undefined }).list();
    const valid = entries.filter((e) => e.valid && e.kind !== 'average');
    valid.sort((a, b) => (b.global_step ?? 0) - (a.global_step ?? 0));
    return valid[0]?.name ?? null;
  }

  /** No worker left, the folder sound, and a fresh start resumes from the newest valid checkpoint and completes. */
  async function expectRecovers(label: string): Promise<{ checked: number; resumedFrom: string | null }> {
    const checked = await expectNothingLeftAndSound(label);
    const expected = await newestValid();
    const epochs = workspace!.config.training.epochs;
    const next = await supervise({ epochs, maxRestarts: 0 });
    const end = await next.runToEnd({ ...pair, epochs }, 120_000);
    expect(end.error ?? null, `${label}: the following start`).toBeNull();
    expect(end).toMatchObject({ state: 'completed', world_size: 2, resumed_from: expected });
    await checkFolder(workspace!.checkpointsDir, loader);
    const left = await Promise.all(watches.map((w) => w.leftAlive()));
    expect(left.flat(), `${label}: worker processes left after completion`).toEqual([]);
    return { checked, resumedFrom: expected };
  }

  /** No worker process alive (zombies count as gone) and every checkpoint listed valid sound; how many. */
  async function expectNothingLeftAndSound(label: string): Promise<number> {
    const stray = await Promise.all(watches.map((w) => w.leftAlive()));
    expect(stray.flat(), `${label}: worker processes left behind`).toEqual([]);
    return (await checkFolder(workspace!.checkpointsDir, loader)).valid.length;
  }

  it(`SIGKILL of rank 1 at random moments of its steps, ${RANK_KILLS} times: each restart resumes and the run completes`, async () => {
    console.log(`distributed-chaos: seed ${seed} (CHAOS_SEED=${seed} repeats this run)`);
    const runs = await supervise({ epochs: 2 + RANK_KILLS, maxRestarts: RANK_KILLS });
    await runs.supervisor.start({ ...pair });
    const killed: number[] = [];
    for (let i = 0; i < RANK_KILLS; i += 1) {
      const from = runs.events.length;
      await runs.waitFor((e) => e.type === 'progress', 60_000, from);
      const pids = await waitUntil('two workers', () => {
        const now = runs.supervisor.workerPids;
        return now.length === 2 && !killed.includes(now[1]!) ? now : undefined;
      });
      // Anywhere in a step: forward, backward, and most of the time the all-reduce waiting on rank 0.
      await sleep(Math.floor(random() * 400));
      signal(pids[1]!, 'SIGKILL');
      killed.push(pids[1]!);
      await runs.waitFor(
        (e) => e.type === 'log' && e.payload.message.startsWith(`Restart ${i + 1}: resuming from`),
        60_000,
        from,
      );
    }
    const end = await runs.finalStatus(0, 180_000);
    expect(end.error ?? null).toBeNull();
    expect(end).toMatchObject({ state: 'completed', world_size: 2, restarts: RANK_KILLS });
    const restarts = runs.logText().match(/^Restart \d+: resuming from \S+/gm) ?? [];
    expect(restarts).toHaveLength(RANK_KILLS);
    // Each restart was the resume from the newest valid checkpoint; the run itself completed.
    const checked = await expectNothingLeftAndSound('rank 1 kills');
    recordFigures('distributed', { seed, rank1_kills_survived: killed.length, checkpoints_checked_rank1: checked });
  });

  it(`SIGKILL of rank 0 while a checkpoint is written or committed, ${COMMIT_KILLS} times: nothing valid is damaged and the next start resumes from the newest valid one`, async () => {
    let inCommit = 0;
    for (let i = 0; i < COMMIT_KILLS; i += 1) {
      const runs = await supervise({ epochs: 3, maxRestarts: 0 });
      await runs.supervisor.start({ ...pair });
      await runs.waitFor((e) => e.type === 'status' && e.payload.state === 'running', 60_000);
      const rank0 = await waitUntil('rank 0', () => runs.supervisor.workerPids[0]);
      // After at least one whole commit (two temp files: the addon's `<name>.tmp-…`, the store's
      // `.<name>.json.tmp-…`), so there is a checkpoint to resume from.
      const killAtTemp = 3 + Math.floor(random() * 4);
      const temps = new Set<string>();
      const landed = new Promise<boolean>((resolve) => {
        folderWatch = watch(workspace!.checkpointsDir, (_kind, file) => {
          if (!file || !String(file).includes('.tmp')) return;
          temps.add(String(file));
          if (temps.size < killAtTemp) return;
          folderWatch?.close();
          signal(rank0, 'SIGKILL');
          resolve(readdirSync(workspace!.checkpointsDir).some((f) => f.includes('.tmp')));
        });
      });
      if (await landed) inCommit += 1;
      const end = await runs.finalStatus(0, 60_000);
      expect(end.state).toBe('failed');
      expect(end.error).toMatchObject({ rank: 0, signal: 'SIGKILL' });
      await expectRecovers(`commit kill ${i}`);
      for (const w of watches) w.close();
      // The next round starts from the completed run's folder: a fresh workspace keeps it a mid-run kill.
      workspace!.cleanup();
      workspace = undefined;
    }
    recordFigures('distributed', { rank0_commit_kills: COMMIT_KILLS, rank0_kills_with_temp_file_present: inCommit });
  });

  it('a rank SIGSTOPped past timeout_s: rank 0 gives up by its timeout, every worker is gone, the next start resumes', async () => {
    const runs = await supervise({ epochs: 3, maxRestarts: 0 });
    await runs.supervisor.start({ ...pair });
    await runs.waitFor((e) => e.type === 'checkpoint', 60_000);
    const pids = runs.supervisor.workerPids;
    signal(pids[1]!, 'SIGSTOP');
    const stoppedAt = Date.now();
    let end: StatusPayload;
    try {
      // Rank 1 is continued only after the run has failed: rank 0 gave up on a peer that was alive and silent.
      end = await runs.finalStatus(0, FAILURE_DEADLINE_MS);
    } finally {
      signal(pids[1]!, 'SIGCONT');
    }
    const waited = Date.now() - stoppedAt;
    expect(end).toMatchObject({ state: 'failed', error: { code: 'E_DISTRIBUTED', rank: 0 } });
    await expectRecovers('straggler');
    recordFigures('distributed', { straggler_stops: 1, straggler_seconds_to_fail: Math.round(waited / 100) / 10 });
  });

  it('the rendezvous port already taken by another listener: the start fails instead of hanging, nothing lingers', async () => {
    const port = await freePort();
    // A listener that accepts and never answers: the worst case for a c10d client.
    blocker = createServer((socket) => blockedSockets.add(socket));
    await new Promise<void>((r) => blocker!.listen(port, '127.0.0.1', () => r()));
    const runs = await supervise({ epochs: 2, maxRestarts: 0, port });
    const startedAt = Date.now();
    await runs.supervisor.start({ ...pair });
    const end = await runs.finalStatus(0, FAILURE_DEADLINE_MS);
    const waited = Date.now() - startedAt;
    expect(end).toMatchObject({ state: 'failed', error: { code: 'E_DISTRIBUTED' } });
    expect(end.error?.message ?? '').not.toBe('');
    await closeBlocker(blocker);
    blocker = undefined;
    await expectRecovers('blocked port');
    recordFigures('distributed', {
      blocked_port_starts: 1,
      blocked_port_seconds_to_fail: Math.round(waited / 100) / 10,
    });
  });

  it('a node-1 rank that never arrives: rank 0 gives up by its timeout, nothing lingers, the next start resumes', async () => {
    const first = await supervise({ epochs: 2, maxRestarts: 0 });
    await first.supervisor.start({ ...pair });
    await first.waitFor((e) => e.type === 'checkpoint', 60_000);
    first.supervisor.stop();
    expect((await first.finalStatus(0)).state).toBe('stopped');
    const runs = await supervise({ epochs: 2, maxRestarts: 0, missingNode: true });
    const startedAt = Date.now();
    await runs.supervisor.start({ ...pair });
    const end = await runs.finalStatus(0, FAILURE_DEADLINE_MS);
    const waited = Date.now() - startedAt;
    expect(end).toMatchObject({ state: 'failed', world_size: 2, error: { code: 'E_DISTRIBUTED', rank: 0 } });
    expect(end.error?.message).toContain(`rendezvous of rank 0 of 2 at 127.0.0.1:`);
    expect(end.error?.message).toContain(`failed (timeout_s=${TIMEOUT_S} s)`);
    await expectRecovers('missing rank');
    recordFigures('distributed', {
      missing_rank_starts: 1,
      missing_rank_seconds_to_fail: Math.round(waited / 100) / 10,
    });
  });
});

const blockedSockets = new Set<Socket>();

/** close() alone waits for the connections it accepted, which a silent listener never ends. */
function closeBlocker(server: Server | undefined): Promise<void> {
  if (!server?.listening) return Promise.resolve();
  return new Promise((r) => {
    server.close(() => r());
    for (const socket of blockedSockets) socket.destroy();
    blockedSockets.clear();
  });
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
