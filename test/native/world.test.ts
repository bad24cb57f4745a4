/**
 * The addon's World (joinWorld) with two real node processes on 127.0.0.1: the collectives agree, two ranks
 * attached to a world train identical steps, and a rank killed with SIGKILL makes the other's train() reject
 * with E_DISTRIBUTED instead of hanging.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import type { StepResult } from '../../src/native/index.js';
import { distributedSkipReason } from '../distributed/helpers.js';
import { freePort } from '../helpers/ports.js';
import { describeOrSkip } from '../helpers/skip.js';
import { native } from './helpers.js';

const RANK_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'world-rank.ts');

interface Rank {
  child: ChildProcess;
  /** Resolves with the first JSON line matching `match`; rejects if the process ends first. */
  next(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function startRank(rank: number, port: number, mode: 'train' | 'kill'): Rank {
  const child = spawn(process.execPath, ['--import', 'tsx', RANK_SCRIPT, String(rank), String(port), mode], {
    env: { ...process.env, OMP_NUM_THREADS: '1', OMP_WAIT_POLICY: 'passive' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] =
    [];
  let stderr = '';
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const text of parts) {
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      for (const w of waiters.filter((x) => x.match(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    next(match) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        void exited.then((code) => reject(new Error(`rank ${rank} exited (${code}) first; stderr:\n${stderr}`)));
      });
    },
  };
}

describeOrSkip('World (two node processes)', distributedSkipReason(), () => {
  it('agrees on flags and text, and two attached ranks train the same global steps', async () => {
    const port = await freePort();
    const ranks = [startRank(0, port, 'train'), startRank(1, port, 'train')];
    const [r0, r1] = await Promise.all(ranks.map((r) => r.next((l) => 'steps' in l)));
    for (const [i, r] of [r0, r1].entries()) {
      expect(r).toMatchObject({ rank: i, size: 2, backend: 'gloo', any: true, shared: 'plan from rank 0 ✓' });
    }
    const steps0 = r0.steps as StepResult[];
    const steps1 = r1.steps as StepResult[];
    expect(steps0).toHaveLength(2);
    expect(steps0.map((s) => s.loss)).toEqual(steps1.map((s) => s.loss));
    expect(steps0.map((s) => s.grad_norm)).toEqual(steps1.map((s) => s.grad_norm));
    expect(steps0.every((s) => Number.isFinite(s.loss) && s.updated && s.utterances === 3)).toBe(true);
    // Shares of [0,1,2] and [1,2,3]: rank 0 takes the first utterance, rank 1 the other two.
    expect(steps0.map((s) => s.ids)).toEqual([['utt0'], ['utt1']]);
    expect(steps1.map((s) => s.ids)).toEqual([
      ['utt1', 'utt2'],
      ['utt2', 'utt3'],
    ]);
    for (const s of [...steps0, ...steps1]) {
      expect(s.rank_seconds).toHaveLength(2);
      expect(s.allreduce_s).toBeGreaterThanOrEqual(0);
    }
    expect(steps0[1].rank_seconds).toEqual(steps1[1].rank_seconds);
    expect(await Promise.all(ranks.map((r) => r.exited))).toEqual([0, 0]);
  }, 120_000);

  // The test's timeout stands for "not a hang": without the fixture's timeout_s (5) c10d would wait 30 minutes.
  it('a rank killed with SIGKILL makes the other reject with E_DISTRIBUTED instead of hanging', async () => {
    const port = await freePort();
    const ranks = [startRank(0, port, 'kill'), startRank(1, port, 'kill')];
    await ranks[1].next((l) => l.step === 2);
    ranks[1].child.kill('SIGKILL');
    const failure = await ranks[0].next((l) => 'error' in l);
    expect(failure.error).toMatchObject({ isAsrTrainerError: true, code: 'E_DISTRIBUTED' });
    expect((failure.error as { message: string }).message).toMatch(/rank 0\b/);
    expect(await ranks[0].exited).toBe(0);
  }, 120_000);
});

const withDistributed = native.distributed
  ? 'this addon has the distributed layer; the test is for a build without it'
  : null;
describeOrSkip('World in a build without the distributed layer', withDistributed, () => {
  it('joinWorld rejects with E_DISTRIBUTED naming libgloo-dev', async () => {
    await expect(
      native.joinWorld({
        rank: 0,
        local_rank: 0,
        world_size: 1,
        local_world_size: 1,
        master_addr: '127.0.0.1',
        master_port: 29500,
        backend: 'gloo',
        timeout_s: 1,
        device: 'cpu',
      }),
    ).rejects.toMatchObject({ code: 'E_DISTRIBUTED', message: expect.stringMatching(/libgloo-dev/) });
  });
});
