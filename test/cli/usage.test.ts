import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { addonProcessEnv } from '../../src/child-process/fork-entry.js';
import { makeWorkspace } from '../helpers/workspace.js';
import { BIN, runCli, startCli, startProcess } from './run-cli.js';

const workspace = makeWorkspace({ names: 'tiny', train: 3, val: 1 });
afterAll(() => workspace.cleanup());

describe('asr-trainer usage', () => {
  it('prints help listing every command and exits 0', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    for (const command of ['serve', 'train', 'checkpoints', 'transcribe', 'make-mini-corpus']) {
      expect(result.stdout).toContain(command);
    }
  });

  it('prints help for each command and exits 0', async () => {
    for (const command of ['serve', 'train', 'checkpoints', 'transcribe']) {
      const result = await runCli([command, '--help']);
      expect(result.code, command).toBe(0);
      expect(result.stdout, command).toContain(`Usage: asr-trainer ${command}`);
    }
    const train = await runCli(['train', '--help']);
    for (const option of [
      '--model',
      '--dataset',
      '--epochs',
      '--batch-size',
      '--lightweight',
      '--limit-samples',
      '--no-resume',
      '--checkpoint',
      '--config',
    ]) {
      expect(train.stdout).toContain(option);
    }
  });

  it('exits 2 with an error line for a missing required option', async () => {
    const result = await runCli(['train', '--model', 'tiny']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: required option '-d, --dataset <name>' not specified/m);
  });

  it('exits 2 for a non-numeric or zero --epochs', async () => {
    for (const value of ['ten', '0', '-3']) {
      const result = await runCli(['train', '-m', 'tiny', '-d', 'tiny', '--epochs', value]);
      expect(result.code, value).toBe(2);
      expect(result.stderr, value).toContain('expected a positive integer');
    }
  });

  it('exits 2 for an unknown command or option', async () => {
    expect((await runCli(['fly'])).code).toBe(2);
    const unknown = await runCli(['checkpoints', '--colour']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--colour'");
  });

  it('make-mini-corpus runs the generator in the CLI process: its usage, and exit 2 naming a bad option', async () => {
    const help = await runCli(['make-mini-corpus', '--', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--train-clips 720[\s\S]*--held-out data\/mini-ljspeech-held-out/);
    const bad = await runCli(['make-mini-corpus', '--train-clips', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('make-mini-corpus: --train-clips must be an integer >= 1 (got "0")');
  });

  it('exits 2 when a file to transcribe does not exist', async () => {
    const result = await runCli(['transcribe', '--config', workspace.configPath, 'no-such-clip.wav']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: no such file: no-such-clip.wav');
  });

  it('exits 1 naming the file when the config does not exist', async () => {
    const result = await runCli(['checkpoints', '--config', '/nonexistent/config.yaml']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: Config file not found: \/nonexistent\/config.yaml.*\(E_CONFIG_INVALID\)$/m);
  });

  it('exits 1 naming the known models for an unknown model', async () => {
    const result = await runCli([
      'train',
      '--config',
      workspace.configPath,
      '-m',
      'nope',
      '-d',
      'tiny',
      '--epochs',
      '1',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: Unknown model 'nope'.*tiny.*\(E_UNKNOWN_MODEL\)$/m);
  });

  it('lists no checkpoints in an empty folder, as JSON too', async () => {
    const table = await runCli(['checkpoints', '--config', workspace.configPath]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('no checkpoints in');
    const json = await runCli(['checkpoints', '--config', workspace.configPath, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ checkpoints: [] });
  });

  it('serves the API and the dashboard until Ctrl-C', async () => {
    const cli = startCli(['serve', '--config', workspace.configPath, '--port', '0']);
    await cli.waitForOutput(/^dashboard: http:\/\/127\.0\.0\.1:\d+\//m, 60_000);
    const url = /^dashboard: (http:\/\/127\.0\.0\.1:\d+)\//m.exec(cli.stdout())![1];
    const health = await fetch(`${url}/api/health`);
    expect(health.status).toBe(200);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>asr-trainer dashboard</title>');
    cli.child.kill('SIGINT');
    const result = await cli.done;
    expect(result.code, result.stderr).toBe(0);
  });

  it('run as a program, the bin starts Node with one malloc arena, unless the user tuned glibc', async () => {
    const arenas = async (env: NodeJS.ProcessEnv): Promise<string | undefined> => {
      // BIN itself, through its #! line, as a shell, SLURM or torchrun starts it (not `node BIN`).
      const cli = startProcess(BIN, ['serve', '--config', workspace.configPath, '--port', '0'], { env });
      await cli.waitForOutput(/^dashboard: http:/m, 60_000);
      // The shell exec'd Node: the pid the launcher holds is Node's, with the environment it started with.
      const environ = readFileSync(`/proc/${cli.child.pid}/environ`, 'utf8').split('\0');
      expect(readFileSync(`/proc/${cli.child.pid}/comm`, 'utf8').trim()).toBe('node');
      cli.child.kill('SIGINT');
      expect((await cli.done).code).toBe(0);
      return environ.find((v) => v.startsWith('MALLOC_ARENA_MAX='));
    };
    // spawn leaves out undefined values: the bin starts without a MALLOC_ARENA_MAX of ours.
    const plain = { MALLOC_ARENA_MAX: undefined, GLIBC_TUNABLES: undefined, ASR_TRAINER_MALLOC: undefined };
    const cases = [
      plain,
      { ...plain, MALLOC_ARENA_MAX: '4' },
      { ...plain, GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' },
      { ...plain, ASR_TRAINER_MALLOC: 'default' },
    ];
    // The shell line is addonProcessEnv's rule in sh: both give the same answer in every case.
    const answers: Array<string | undefined> = [];
    for (const env of cases) answers.push(await arenas(env));
    const arenaOf = (env: NodeJS.ProcessEnv) =>
      env.MALLOC_ARENA_MAX === undefined ? undefined : `MALLOC_ARENA_MAX=${env.MALLOC_ARENA_MAX}`;
    expect(answers).toEqual(cases.map((env) => arenaOf(addonProcessEnv(env))));
    expect(answers).toEqual(['MALLOC_ARENA_MAX=1', 'MALLOC_ARENA_MAX=4', undefined, undefined]);
  });
});
