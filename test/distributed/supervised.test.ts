/**
 * Data-parallel runs as users start them: through the server (its supervisor forks the local workers),
 * through `asr-trainer train --nproc-per-node`, and across two "nodes" on 127.0.0.1 (node 1 an
 * `asr-trainer worker` process with torchrun's variables). A rank that never arrives fails the start.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { runCli, startCli } from '../cli/run-cli.js';
import { freePort } from '../helpers/ports.js';
import { describeOrSkip } from '../helpers/skip.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { EventStream, get, post, startServer, type TestServer } from '../server/client.js';
import { distributedSkipReason, ONE_THREAD, sidecarOf, withWorkers } from './helpers.js';

describeOrSkip('data-parallel runs started by users', distributedSkipReason(), () => {
  let workspace: TestWorkspace | undefined;
  let server: TestServer | undefined;
  let events: EventStream | undefined;
  afterEach(async () => {
    events?.close();
    await server?.close();
    workspace?.cleanup();
    events = server = workspace = undefined;
  });

  async function serve(nproc: number, distributed: Record<string, number>): Promise<void> {
    workspace = makeWorkspace({ train: 24, val: 4, batchSize: 4, epochs: 2 });
    const config = withWorkers(workspace.config, nproc, distributed);
    server = await startServer({ ...workspace, config }, { supervisor: { env: ONE_THREAD } });
    events = await EventStream.open(server.wsUrl);
  }

  it('the server runs a world of 2 to completion: world_size 2 in status, rank_step_s per step, sidecars', async () => {
    await serve(2, { master_port: await freePort(), timeout_s: 30 });
    const run = await post(server!.url, '/api/train/start', { model_name: 'conformer', dataset_name: 'ljspeech' });
    expect(run.status).toBe(202);
    const end = await events!.waitForState(['completed', 'failed'], 0, 60_000);
    expect(end.payload.error ?? null).toBeNull();
    expect((await get(server!.url, '/api/train/status')).body).toMatchObject({
      state: 'completed',
      world_size: 2,
      restarts: 0,
      global_step: 12,
    });
    const progress = events!.of('progress');
    expect(progress.map((p) => p.global_step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    for (const p of progress) {
      expect(p.rank_step_s).toHaveLength(2);
      expect(Number.isFinite(p.loss)).toBe(true);
    }
    expect(sidecarOf(workspace!.checkpointsDir, 'conformer-ljspeech-epoch-2.pt')).toMatchObject({ world_size: 2 });
    // One writer: each epoch's checkpoint is committed once, by rank 0.
    expect(events!.of('checkpoint').map((c) => c.name)).toEqual([
      'conformer-ljspeech-epoch-1.pt',
      'conformer-ljspeech-epoch-2.pt',
    ]);
    expect(events!.of('metrics')).toHaveLength(2);
  });

  it('two nodes on 127.0.0.1: the server with one worker and `asr-trainer worker` train one run', async () => {
    const port = await freePort();
    await serve(1, { nnodes: 2, master_port: port, timeout_s: 30 });
    // Node 1's own config: its own (unused) checkpoint folder and another batch size, which rank 0's plan overrides.
    const node1Config = join(workspace!.root, 'node1.yaml');
    writeFileSync(
      node1Config,
      readFileSync(workspace!.configPath, 'utf8')
        .replace('checkpoints: checkpoints', 'checkpoints: node1-checkpoints')
        .replace('batch_size: 4', 'batch_size: 7') +
        `distributed: { nnodes: 2, node_rank: 1, master_port: ${port}, timeout_s: 30 }\n`,
    );
    const worker = startCli(['worker', '--config', node1Config], {
      env: {
        ...ONE_THREAD,
        RANK: '1',
        LOCAL_RANK: '0',
        WORLD_SIZE: '2',
        LOCAL_WORLD_SIZE: '1',
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
      },
    });
    const run = await post(server!.url, '/api/train/start', { model_name: 'conformer', dataset_name: 'ljspeech' });
    expect(run.status).toBe(202);
    const end = await events!.waitForState(['completed', 'failed'], 0, 60_000);
    expect(end.payload.error ?? null).toBeNull();
    expect(end.payload).toMatchObject({ state: 'completed', world_size: 2, global_step: 12 });
    const result = await worker.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^rank 1 of 2: run \S+, epochs 1\.\.2$/m);
    expect(result.stdout).toMatch(/^rank 1: completed at epoch 2 step 6 \(global 12\)$/m);
    expect(existsSync(join(workspace!.root, 'node1-checkpoints'))).toBe(false);
  });

  it('every rank an `asr-trainer worker` (as torchrun, srun or a Job start them): rank 0 plans from --model/--dataset', async () => {
    workspace = makeWorkspace({ names: 'tiny', train: 16, val: 4, batchSize: 4, epochs: 1 });
    const port = await freePort();
    const place = { LOCAL_RANK: '0', WORLD_SIZE: '2', LOCAL_WORLD_SIZE: '1', MASTER_ADDR: '127.0.0.1' };
    const env = (rank: number) => ({ ...ONE_THREAD, ...place, RANK: String(rank), MASTER_PORT: String(port) });
    const ranks = [
      startCli(['worker', '--config', workspace.configPath, '-m', 'tiny', '-d', 'tiny', '--no-resume'], {
        env: env(0),
      }),
      startCli(['worker', '--config', workspace.configPath], { env: env(1) }),
    ];
    const [rank0, rank1] = await Promise.all(ranks.map((r) => r.done));
    expect(rank0!.code, rank0!.stdout + rank0!.stderr).toBe(0);
    expect(rank1!.code, rank1!.stdout + rank1!.stderr).toBe(0);
    expect(rank0!.stdout).toMatch(/^rank 0: completed at epoch 1 step 4 \(global 4\)$/m);
    expect(rank0!.stdout).toContain("Saved checkpoint 'tiny-tiny-epoch-1.pt'");
    expect(rank1!.stdout).not.toContain('Saved checkpoint');
    expect(sidecarOf(workspace.checkpointsDir, 'tiny-tiny-epoch-1.pt')).toMatchObject({ world_size: 2 });
    const noPlan = await runCli(['worker', '--config', workspace.configPath], { env: env(0) });
    expect(noPlan.code).toBe(2);
    expect(noPlan.stderr).toContain('rank 0 plans the run: give --model and --dataset');
  });

  it('a rank that never arrives fails the start with E_DISTRIBUTED after timeout_s, not a hang', async () => {
    await serve(1, { nnodes: 2, master_port: await freePort(), timeout_s: 3 });
    const run = await post(server!.url, '/api/train/start', { model_name: 'conformer', dataset_name: 'ljspeech' });
    expect(run.status).toBe(202);
    // The wait's deadline stands for "not a hang" (c10d's own default would be 30 minutes); the message says
    // the rendezvous gave up by the configured timeout_s.
    const end = await events!.waitForState(['completed', 'failed'], 0, 60_000);
    expect(end.payload).toMatchObject({ state: 'failed', world_size: 2, error: { code: 'E_DISTRIBUTED', rank: 0 } });
    expect(end.payload.error.message).toMatch(
      /^Rank 0: .*rendezvous of rank 0 of 2 at 127\.0\.0\.1:\d+ failed \(timeout_s=3 s\)/,
    );
    expect((await get(server!.url, '/api/health')).status).toBe(200);
  });

  it('asr-trainer train --nproc-per-node 2 runs the workers under a supervisor of its own', async () => {
    workspace = makeWorkspace({ names: 'tiny', train: 16, val: 4, batchSize: 4, epochs: 1 });
    const port = await freePort();
    writeFileSync(
      workspace.configPath,
      readFileSync(workspace.configPath, 'utf8') + `distributed: { master_port: ${port}, timeout_s: 30 }\n`,
    );
    const result = await runCli(
      ['train', '--config', workspace.configPath, '-m', 'tiny', '-d', 'tiny', '--nproc-per-node', '2'],
      { env: ONE_THREAD },
    );
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^run \S+: tiny on tiny, epochs 1\.\.1, from scratch, 2 workers$/m);
    expect(result.stdout).toMatch(/world 2, slowest rank [01] \d+\.\d{3} s\/step$/m);
    expect(result.stdout).toMatch(/^completed: epoch 1, global step 4$/m);
    expect(sidecarOf(workspace.checkpointsDir, 'tiny-tiny-epoch-1.pt')).toMatchObject({ world_size: 2 });
  });
});
