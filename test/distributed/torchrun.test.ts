/**
 * torchrun starting `asr-trainer worker` with --no_python, as the README shows, with Debian's torchrun
 * (python3-torch 1.13; it needs `--redirects 1 --tee 1`). Its static rendezvous (--master_addr/--master_port)
 * serves the c10d store from its agent and tells the workers so (TORCHELASTIC_USE_AGENT_STORE=True): rank 0
 * must connect, not listen. Its --standalone launch (a c10d rendezvous) hands the workers a free port, where
 * rank 0 serves the store. Each trains a world of 2 to the end.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { BIN, runProcess, type CliResult } from '../cli/run-cli.js';
import { freePort } from '../helpers/ports.js';
import { describeOrSkip } from '../helpers/skip.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { distributedSkipReason, ONE_THREAD, sidecarOf } from './helpers.js';

const TORCHRUN = '/usr/bin/torchrun';
const skipReason = existsSync(TORCHRUN)
  ? distributedSkipReason()
  : `${TORCHRUN} is not installed (apt-get install python3-torch)`;

describeOrSkip('torchrun launches `asr-trainer worker`', skipReason, () => {
  let workspace: TestWorkspace | undefined;
  afterEach(() => {
    workspace?.cleanup();
    workspace = undefined;
  });

  /** torchrun with `launch` (its rendezvous options) starting two workers of a one-epoch run of 4 steps. */
  function torchrun(launch: string[]): Promise<CliResult> {
    workspace = makeWorkspace({
      names: 'tiny',
      train: 16,
      val: 4,
      batchSize: 4,
      epochs: 1,
      distributed: { timeout_s: 30 },
    });
    const worker = ['worker', '--config', workspace.configPath, '-m', 'tiny', '-d', 'tiny', '--no-resume'];
    return runProcess(
      TORCHRUN,
      [
        ...launch,
        '--nproc_per_node',
        '2',
        '--redirects',
        '1',
        '--tee',
        '1',
        '--log_dir',
        join(workspace.root, 'torchrun-logs'),
        '--no_python',
        BIN,
        ...worker,
      ],
      { env: ONE_THREAD },
    );
  }

  function expectTrainedByTwo(result: CliResult): void {
    expect(result.code, result.stdout + result.stderr).toBe(0);
    // --tee 1 copies each worker's stdout to torchrun's, behind a prefix naming the worker.
    expect(result.stdout).toMatch(/rank 0: completed at epoch 1 step 4 \(global 4\)$/m);
    expect(result.stdout).toMatch(/rank 1: completed at epoch 1 step 4 \(global 4\)$/m);
    expect(result.stdout).toContain("Saved checkpoint 'tiny-tiny-epoch-1.pt'");
    expect(sidecarOf(workspace!.checkpointsDir, 'tiny-tiny-epoch-1.pt')).toMatchObject({ world_size: 2 });
  }

  it('the static rendezvous (--nnodes 1 --node_rank 0 --master_addr --master_port): every rank joins its agent’s store', async () => {
    const port = await freePort();
    const result = await torchrun([
      '--nnodes',
      '1',
      '--node_rank',
      '0',
      '--master_addr',
      '127.0.0.1',
      '--master_port',
      String(port),
    ]);
    expectTrainedByTwo(result);
    expect(result.stdout).toContain(`joining the run at 127.0.0.1:${port} (torchrun's store)`);
  });

  // --standalone's own rendezvous listens on localhost:29400 (fixed by torchrun 1.13): one such launch at a time.
  it('--standalone (a c10d rendezvous): rank 0 serves the store at the port torchrun picked', async () => {
    const result = await torchrun(['--standalone']);
    expectTrainedByTwo(result);
    expect(result.stdout).not.toContain("(torchrun's store)");
  });
});
