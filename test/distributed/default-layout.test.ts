/**
 * The layout config.yaml ships (`distributed.nproc_per_node: auto`, `training.threads: auto`): on a CPU with
 * two or more cores, `asr-trainer train` and a plain POST /api/train/start train as two worker processes
 * with half the cores each, meet on a free port (not master_port), record world_size 2, and stop and resume
 * bit for bit at that layout. The rules for other machines (src/training/layout.ts) are checked as values.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { AsrConfig } from '../../src/config/schema.js';
import { AsrTrainerError } from '../../src/errors.js';
import {
  AUTO_CPU_WORKERS,
  thisMachine,
  threadsOfLocalWorker,
  workersPerNode,
  type Machine,
} from '../../src/training/layout.js';
import { runCli, REPO_ROOT } from '../cli/run-cli.js';
import { freePort } from '../helpers/ports.js';
import { describeOrSkip } from '../helpers/skip.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { EventStream, get, post, startServer, type TestServer } from '../server/client.js';
import { distributedSkipReason, sidecarOf, stepLosses, SupervisedRuns, withWorkers } from './helpers.js';

const cpu2: Machine = { cores: 2, gpu: false };

function configWith(training: Partial<AsrConfig['training']>, distributed: Partial<AsrConfig['distributed']>) {
  const base = makeWorkspace({ names: 'tiny', train: 4, val: 1 });
  base.cleanup();
  return {
    ...base.config,
    training: { ...base.config.training, ...training },
    distributed: { ...base.config.distributed, ...distributed },
  };
}

describe('what nproc_per_node: auto and threads: auto mean on a machine', () => {
  it('config.yaml ships both as auto', () => {
    const shipped = loadConfig({ path: join(REPO_ROOT, 'config.yaml'), env: {} });
    expect(shipped.distributed.nproc_per_node).toBe('auto');
    expect(shipped.training.threads).toBe('auto');
  });

  it('a CPU with 2 or more cores: two workers; one core, a GPU under device auto, or several nodes: one', () => {
    const auto = { nproc_per_node: 'auto' as const };
    expect(workersPerNode(configWith({ device: 'auto' }, auto), cpu2)).toBe(AUTO_CPU_WORKERS);
    expect(workersPerNode(configWith({ device: 'cpu' }, auto), { cores: 16, gpu: true })).toBe(AUTO_CPU_WORKERS);
    expect(workersPerNode(configWith({ device: 'auto' }, auto), { cores: 1, gpu: false })).toBe(1);
    expect(workersPerNode(configWith({ device: 'auto' }, auto), { cores: 16, gpu: true })).toBe(1);
    expect(workersPerNode(configWith({ device: 'cuda' }, auto), cpu2)).toBe(1);
    expect(workersPerNode(configWith({ device: 'cpu' }, { ...auto, nnodes: 2 }), cpu2)).toBe(1);
    expect(workersPerNode(configWith({}, { nproc_per_node: 3 }), cpu2)).toBe(3);
  });

  it('threads: auto is divided among the local workers; a number stays', () => {
    expect(threadsOfLocalWorker('auto', 1, 8)).toBe('auto');
    expect(threadsOfLocalWorker('auto', 2, 2)).toBe(1);
    expect(threadsOfLocalWorker('auto', 2, 7)).toBe(3);
    expect(threadsOfLocalWorker('auto', 4, 2)).toBe(1);
    expect(threadsOfLocalWorker(3, 2, 2)).toBe(3);
  });

  it('the config file takes auto or a count, nothing else', () => {
    const workspace = makeWorkspace({ names: 'tiny', distributed: { nproc_per_node: 'auto' } });
    try {
      expect(workspace.config.distributed.nproc_per_node).toBe('auto');
      writeFileSync(
        workspace.configPath,
        readFileSync(workspace.configPath, 'utf8').replace('nproc_per_node: auto', 'nproc_per_node: all'),
      );
      expect(() => loadConfig({ path: workspace.configPath, env: {} })).toThrow(AsrTrainerError);
      expect(() => loadConfig({ path: workspace.configPath, env: {} })).toThrow(
        /distributed\.nproc_per_node: must be "auto" or an integer >= 1/,
      );
    } finally {
      workspace.cleanup();
    }
  });
});

const layoutSkipReason =
  distributedSkipReason() ??
  (thisMachine().cores < AUTO_CPU_WORKERS || thisMachine().gpu
    ? `auto trains one process on this machine (${thisMachine().cores} cores${thisMachine().gpu ? ', a GPU' : ''})`
    : null);

describeOrSkip('the default layout, run for real', layoutSkipReason, () => {
  const cores = thisMachine().cores;
  let workspace: TestWorkspace | undefined;
  let server: TestServer | undefined;
  let events: EventStream | undefined;
  let squatter: Server | undefined;
  const open: SupervisedRuns[] = [];
  afterEach(async () => {
    for (const runs of open.splice(0)) await runs.close();
    events?.close();
    await server?.close();
    squatter?.close();
    workspace?.cleanup();
    events = server = workspace = squatter = undefined;
  });

  /** A workspace with config.yaml's layout settings, and master_port held by a listener that is not a store. */
  async function autoWorkspace(options: Parameters<typeof makeWorkspace>[0]): Promise<TestWorkspace> {
    const port = await freePort();
    squatter = createServer();
    await new Promise<void>((resolve) => squatter!.listen(port, '127.0.0.1', resolve));
    return makeWorkspace({
      ...options,
      training: { threads: 'auto', ...options?.training },
      distributed: { nproc_per_node: 'auto', master_port: port, timeout_s: 30 },
    });
  }

  it('asr-trainer train: 2 workers of cores/2 threads on a free port, world_size 2 in the sidecar', async () => {
    workspace = await autoWorkspace({ names: 'tiny', train: 16, val: 4, batchSize: 4, epochs: 1 });
    const result = await runCli(['train', '--config', workspace.configPath, '-m', 'tiny', '-d', 'tiny', '--verbose']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^run \S+: tiny on tiny, epochs 1\.\.1, from scratch, 2 workers$/m);
    expect(result.stdout).toContain(`${Math.floor(cores / 2)} threads, rank 0 of 2 (gloo)`);
    expect(result.stdout).toMatch(
      /on 2 workers \(2 here × 1 nodes, distributed\.nproc_per_node: auto, rendezvous 127\.0\.0\.1:\d+\)/,
    );
    expect(result.stdout).toMatch(/^completed: epoch 1, global step 4$/m);
    expect(sidecarOf(workspace.checkpointsDir, 'tiny-tiny-epoch-1.pt')).toMatchObject({ world_size: 2 });
  });

  it('a plain POST /api/train/start trains as 2 workers; status and the API read world_size 2', async () => {
    workspace = await autoWorkspace({ train: 24, val: 4, batchSize: 4, epochs: 2 });
    server = await startServer(workspace);
    events = await EventStream.open(server.wsUrl);
    const run = await post(server.url, '/api/train/start', { model_name: 'conformer', dataset_name: 'ljspeech' });
    expect(run.status).toBe(202);
    const end = await events.waitForState(['completed', 'failed'], 0, 60_000);
    expect(end.payload.error ?? null).toBeNull();
    expect((await get(server.url, '/api/train/status')).body).toMatchObject({
      state: 'completed',
      world_size: 2,
      global_step: 12,
    });
    for (const p of events.of('progress')) expect(p.rank_step_s).toHaveLength(2);
    expect(sidecarOf(workspace.checkpointsDir, 'conformer-ljspeech-epoch-2.pt')).toMatchObject({ world_size: 2 });
  });

  it('stopped and resumed at the auto layout, a run trains the losses of the one that never stopped, bit for bit', async () => {
    workspace = await autoWorkspace({ train: 32, val: 4, batchSize: 4, epochs: 2 });
    const runs = new SupervisedRuns(withWorkers(workspace.config, 'auto'));
    open.push(runs);
    const reference = await runs.runToEnd({ model_name: 'conformer-ref', dataset_name: 'ljspeech', epochs: 2 });
    expect(reference).toMatchObject({ state: 'completed', world_size: 2 });

    const pair = { model_name: 'conformer', dataset_name: 'ljspeech', epochs: 2 };
    const from = runs.events.length;
    await runs.supervisor.start(pair);
    await runs.waitFor((e) => e.type === 'progress' && e.payload.global_step >= 3, 60_000, from);
    runs.supervisor.stop();
    const stopped = await runs.finalStatus(from);
    expect(stopped).toMatchObject({ state: 'stopped', world_size: 2 });
    const resumed = await runs.runToEnd(pair);
    expect(resumed).toMatchObject({ state: 'completed', world_size: 2, global_step: 16 });
    expect(resumed.resumed_from).toMatch(/step/);

    const expected = stepLosses(workspace.runsDir, 'conformer-ref', 'ljspeech');
    const actual = stepLosses(workspace.runsDir, 'conformer', 'ljspeech');
    expect([...actual.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    for (const [step, loss] of actual) expect(loss, `global step ${step}`).toBe(expected.get(step));
  });
});
