import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeWorkspace } from '../helpers/workspace.js';
import { BIN, runCli, runProcess, startCli } from './run-cli.js';

// 40 utterances at batch size 1: enough steps per epoch for a Ctrl-C to land mid-epoch.
const workspace = makeWorkspace({ names: 'tiny', train: 40, val: 4, batchSize: 2 });
afterAll(() => workspace.cleanup());

interface Listed {
  name: string;
  epoch: number;
  step: number;
  kind: string;
  is_latest: boolean;
  valid: boolean;
  metrics: Record<string, number | null>;
}

async function listCheckpoints(): Promise<Listed[]> {
  const result = await runCli(['checkpoints', '--config', workspace.configPath, '--json']);
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { checkpoints: Listed[] }).checkpoints;
}

const cfg = ['--config', workspace.configPath, '--model', 'tiny', '--dataset', 'tiny'];

describe('asr-trainer train (spawned, real files)', () => {
  it('trains two epochs with plain progress lines when stdout is not a terminal', async () => {
    const result = await runCli(['train', ...cfg, '--epochs', '2', '--no-resume']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^run \S+: tiny on tiny, epochs 1\.\.2, from scratch$/m);
    expect(result.stdout).toMatch(
      /^epoch 1\/2 step 1\/20 \(global 1\)  loss \d+\.\d{4}  lr \d\.\d\de-\d+  \d+\.\d utt\/s  ETA \d+:\d\d$/m,
    );
    expect(result.stdout).toMatch(/^epoch 2\/2 step 20\/20 \(global 40\)/m);
    expect(result.stdout).toMatch(/^Epoch 2: val loss \d+\.\d{4}, CER \d+\.\d\d%, WER \d+\.\d\d%$/m);
    expect(result.stdout).toContain("Saved checkpoint 'tiny-tiny-epoch-2.pt'");
    expect(result.stdout).toMatch(/^completed: epoch 2, global step 40/m);
    // No bar redraws or colours in a pipe.
    expect(result.stdout).not.toMatch(/\r|\x1b\[/);
  });

  it('lists the checkpoints as the API JSON, newest first, with the latest marked', async () => {
    const checkpoints = await listCheckpoints();
    expect(checkpoints.map((c) => c.name)).toEqual(['tiny-tiny-epoch-2.pt', 'tiny-tiny-epoch-1.pt']);
    expect(checkpoints[0]).toMatchObject({ epoch: 2, is_latest: true, valid: true });
    expect(typeof checkpoints[0].metrics.val_cer).toBe('number');
    const table = await runCli(['checkpoints', '--config', workspace.configPath]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+EPOCH\s+STEP\s+SIZE\s+VAL CER\s+CREATED/m);
    expect(table.stdout).toMatch(/^tiny-tiny-epoch-2\.pt\s+2\s+\d+\s+[\d.]+ MB\s+\d+\.\d\d%.*latest/m);
  });

  it('Ctrl-C stops after the current step with a step checkpoint and exit code 130', async () => {
    const cli = startCli(['train', ...cfg, '--epochs', '6']);
    await cli.waitForOutput(/^epoch 3\/6 step \d+\/20/m);
    cli.child.kill('SIGINT');
    const result = await cli.done;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stdout).toContain('stopping: saving a checkpoint at the current step');
    const saved = /^stopped at epoch 3 step (\d+); saved (tiny-tiny-epoch-3-step-\d+\.pt)/m.exec(result.stdout);
    expect(saved, result.stdout).not.toBeNull();
    const checkpoints = await listCheckpoints();
    expect(checkpoints[0]).toMatchObject({
      name: saved![2],
      kind: 'step',
      epoch: 3,
      step: Number(saved![1]),
      is_latest: true,
      valid: true,
    });
    expect(existsSync(join(workspace.checkpointsDir, saved![2]))).toBe(true);
  });

  it('a plain train resumes from the step checkpoint', async () => {
    const before = (await listCheckpoints())[0];
    const result = await runCli(['train', ...cfg, '--epochs', '3']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`epochs 3..3, resumed from ${before.name}`);
    expect(result.stdout).toMatch(new RegExp(`^epoch 3/3 step ${before.step + 1}/20`, 'm'));
    expect(result.stdout).toContain("Saved checkpoint 'tiny-tiny-epoch-3.pt'");
  });

  it('draws a redrawn progress bar when stdout is a terminal', async () => {
    // util-linux `script` gives the CLI a pseudo-terminal, as an interactive shell would.
    const command = ['node', BIN, 'train', ...cfg, '--epochs', '4'].join(' ');
    const result = await runProcess('script', ['-qec', command, '/dev/null']);
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toMatch(
      /\r\x1b\[2Kepoch 4\/4 [█░]{24} 1\/20  loss \d+\.\d{4}  lr \S+  \d+\.\d utt\/s  ETA \d+:\d\d/,
    );
    expect(result.stdout).toMatch(/epoch 4\/4 █{24} 20\/20 /);
    expect(result.stdout).toContain("Saved checkpoint 'tiny-tiny-epoch-4.pt'");
  });

  it('exits 1 with the guide message for a checkpoint that does not exist', async () => {
    const result = await runCli(['train', ...cfg, '--epochs', '5', '--checkpoint', 'tiny-tiny-epoch-99.pt']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^error: Specified checkpoint 'tiny-tiny-epoch-99.pt' not found.*\(E_CHECKPOINT_NOT_FOUND\)$/m,
    );
  });

  it('transcribes WAV files with a named checkpoint, and with the best by default', async () => {
    const clips = [
      join(workspace.datasetDir, 'wavs', 'TINY-0040.wav'),
      join(workspace.datasetDir, 'wavs', 'TINY-0041.wav'),
    ];
    const named = await runCli([
      'transcribe',
      '--config',
      workspace.configPath,
      '--checkpoint',
      'tiny-tiny-epoch-2.pt',
      '--json',
      ...clips,
    ]);
    expect(named.code, named.stderr).toBe(0);
    const parsed = JSON.parse(named.stdout) as { checkpoint: string; results: Array<{ file: string; text: string }> };
    expect(parsed.checkpoint).toBe('tiny-tiny-epoch-2.pt');
    expect(parsed.results.map((r) => r.file)).toEqual(clips);
    for (const r of parsed.results) expect(r.text).toMatch(/^[a-z' ]*$/);
    const best = await runCli(['transcribe', '--config', workspace.configPath, clips[0]]);
    expect(best.code, best.stderr).toBe(0);
    expect(best.stderr).toMatch(/^checkpoint: tiny-tiny-epoch-\d\.pt$/m);
  });
});
