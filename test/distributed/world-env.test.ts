/** A worker's place from torchrun's environment: all six names or none, each checked and named. */
import { describe, expect, it } from 'vitest';
import { AsrTrainerError } from '../../src/errors.js';
import { localPlaces, placeEnvironment, readWorkerPlace } from '../../src/training/world-env.js';
import { runCli } from '../cli/run-cli.js';
import { makeWorkspace } from '../helpers/workspace.js';

const full = {
  RANK: '1',
  LOCAL_RANK: '0',
  WORLD_SIZE: '2',
  LOCAL_WORLD_SIZE: '1',
  MASTER_ADDR: '10.0.0.1',
  MASTER_PORT: '29500',
};

function messageOf(env: NodeJS.ProcessEnv): string {
  try {
    readWorkerPlace(env);
  } catch (err) {
    expect(err).toBeInstanceOf(AsrTrainerError);
    return (err as AsrTrainerError).message;
  }
  return 'no error';
}

describe('readWorkerPlace', () => {
  it('none of the names: a process on its own', () => {
    expect(readWorkerPlace({ PATH: '/usr/bin' })).toBeNull();
  });

  it('all six: the place', () => {
    expect(readWorkerPlace(full)).toEqual({
      rank: 1,
      local_rank: 0,
      world_size: 2,
      local_world_size: 1,
      master_addr: '10.0.0.1',
      master_port: 29500,
    });
  });

  it("torchrun's static rendezvous: every rank a client of the agent's store, keys per restart", () => {
    const agent = { ...full, TORCHELASTIC_USE_AGENT_STORE: 'True', TORCHELASTIC_RESTART_COUNT: '2' };
    expect(readWorkerPlace(agent)).toMatchObject({ rank: 1, agent_store: true, restart_count: 2 });
    // torchrun's c10d rendezvous (--standalone, --rdzv_backend c10d) says False: rank 0 serves the store.
    expect(readWorkerPlace({ ...agent, TORCHELASTIC_USE_AGENT_STORE: 'False' })).not.toHaveProperty('agent_store');
    expect(messageOf({ ...agent, TORCHELASTIC_RESTART_COUNT: 'x' })).toBe(
      "TORCHELASTIC_RESTART_COUNT must be an integer ≥ 0, got 'x'",
    );
  });

  it('some of them: an error naming the missing ones', () => {
    const partial = { ...full, MASTER_PORT: undefined, LOCAL_WORLD_SIZE: undefined };
    expect(messageOf(partial)).toMatch(/lacks LOCAL_WORLD_SIZE, MASTER_PORT \(4 of RANK, .*\): set all six/);
  });

  it('values out of range name the variable', () => {
    expect(messageOf({ ...full, RANK: 'one' })).toBe("RANK must be an integer ≥ 0, got 'one'");
    expect(messageOf({ ...full, RANK: '2' })).toBe('RANK (2) must be below WORLD_SIZE (2)');
    expect(messageOf({ ...full, LOCAL_RANK: '1' })).toBe('LOCAL_RANK (1) must be below LOCAL_WORLD_SIZE (1)');
    expect(messageOf({ ...full, MASTER_PORT: '70000' })).toBe('MASTER_PORT (70000) must be a TCP port (1..65535)');
  });

  it('the supervisor places node 1 ranks after node 0 ones, and its env reads back the same place', () => {
    const places = localPlaces({
      nproc_per_node: 2,
      nnodes: 2,
      node_rank: 1,
      master_addr: '127.0.0.1',
      master_port: 29511,
      backend: 'auto',
      timeout_s: 60,
      max_restarts: 0,
    });
    expect(places.map((p) => [p.rank, p.local_rank, p.world_size])).toEqual([
      [2, 0, 4],
      [3, 1, 4],
    ]);
    expect(readWorkerPlace(placeEnvironment(places[1]!))).toEqual(places[1]);
  });
});

describe('asr-trainer worker', () => {
  it('exits 2 with the names to set when the environment has no place', async () => {
    const workspace = makeWorkspace({ names: 'tiny', train: 4, val: 1 });
    try {
      const env = Object.fromEntries(Object.keys(full).map((k) => [k, '']));
      const result = await runCli(['worker', '--config', workspace.configPath], { env });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        'asr-trainer worker takes its place in the run from the environment: set RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT',
      );
      const partial = await runCli(['worker', '--config', workspace.configPath], { env: { ...env, RANK: '1' } });
      expect(partial.code).toBe(2);
      expect(partial.stderr).toMatch(/The worker environment lacks LOCAL_RANK, WORLD_SIZE/);
    } finally {
      workspace.cleanup();
    }
  });
});
