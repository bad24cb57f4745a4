/**
 * Issue 14 §2–3 through a real server, real trainer processes and real files: backups made by a run,
 * a resume from an older checkpoint that only the backup folder still has (restored, then retrained
 * beside the newer files, which stay byte-identical), pin/unpin over HTTP and with the CLI, and a full
 * backup disk (a real 4 KiB tmpfs, mounted when the tests run as root) that warns while training goes on.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckpointEntry } from '../../src/contract/index.js';
import { loadConfig } from '../../src/config/index.js';
import { runCli } from '../cli/run-cli.js';
import { EventStream, get, post, startServer, type TestServer } from './client.js';
import { describeOrSkip, unlessRoot } from '../helpers/skip.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';

const REQUEST = { model_name: 'conformer', dataset_name: 'ljspeech' };
const ckpt = (epoch: number, suffix = ''): string => `conformer-ljspeech-epoch-${epoch}${suffix}.pt`;

/** The fixture workspace with `paths.backup: backup` and `training.backup_every_epochs`. */
function backedUpWorkspace(everyEpochs: number): TestWorkspace & { backupDir: string } {
  const workspace = makeWorkspace({ train: 8, val: 2, batchSize: 4, retention: 1 });
  const text = readFileSync(workspace.configPath, 'utf8')
    .replace(
      'paths: { checkpoints: checkpoints, runs: runs, cache: .cache }',
      'paths: { checkpoints: checkpoints, runs: runs, cache: .cache, backup: backup }',
    )
    .replace('training:\n', `training:\n  backup_every_epochs: ${everyEpochs}\n`);
  writeFileSync(workspace.configPath, text);
  const config = loadConfig({ path: workspace.configPath, env: {} });
  return { ...workspace, config, backupDir: config.paths.backup! };
}

const logs = (events: EventStream, from: number): string[] =>
  events.messages
    .slice(from)
    .filter((m) => m.type === 'log')
    .map((m) => `${m.payload.level}: ${m.payload.message}`);

describe('backups, timelines and pins on a real server', () => {
  let workspace: TestWorkspace & { backupDir: string };
  let server: TestServer;
  let events: EventStream;

  beforeAll(async () => {
    workspace = backedUpWorkspace(1);
    mkdirSync(workspace.backupDir);
    server = await startServer(workspace);
    events = await EventStream.open(server.wsUrl);
  });
  afterAll(async () => {
    events?.close();
    await server?.close();
    workspace?.cleanup();
  });

  it('backs up every epoch off the training thread, verified, beside a retention of 1', async () => {
    const from = events.messages.length;
    const r = await post(server.url, '/api/train/start', { ...REQUEST, epochs: 3, resume_from_checkpoint: false });
    expect(r.status).toBe(202);
    await events.waitForState(['completed'], from, 240_000);
    const backedUp = readdirSync(workspace.backupDir).sort();
    expect(backedUp).toEqual([1, 2, 3].flatMap((e) => [ckpt(e), `${ckpt(e)}.json`]).sort());
    expect(logs(events, from).filter((l) => l.includes('sha256 verified'))).toHaveLength(3);
    for (const name of [ckpt(3), `${ckpt(3)}.json`]) {
      expect(readFileSync(join(workspace.backupDir, name))).toEqual(readFileSync(join(workspace.checkpointsDir, name)));
    }
  });

  it('pins and unpins over HTTP, 404 with the guide text for an unknown name', async () => {
    const pinned = await post(server.url, `/api/checkpoints/${ckpt(3)}/pin`, {});
    expect(pinned).toEqual({ status: 200, body: { name: ckpt(3), pinned: true } });
    const listed = (await get(server.url, '/api/checkpoints')).body.checkpoints as CheckpointEntry[];
    expect(listed.find((c) => c.name === ckpt(3))).toMatchObject({ pinned: true, valid: true });
    expect(listed.filter((c) => c.name !== ckpt(3)).every((c) => c.pinned === false)).toBe(true);

    const unknown = await post(server.url, `/api/checkpoints/${ckpt(42)}/pin`, {});
    expect(unknown).toMatchObject({
      status: 404,
      body: {
        statusCode: 404,
        error: 'Not Found',
        message: `Specified checkpoint '${ckpt(42)}' not found; pin a checkpoint file name from GET /api/checkpoints`,
        code: 'E_CHECKPOINT_NOT_FOUND',
      },
    });
    expect((await post(server.url, `/api/checkpoints/${ckpt(42)}/unpin`, {})).status).toBe(404);
  });

  it('resumes from an epoch only the backup still has: restored with a warning, retrained as -v2, newer files byte-identical', async () => {
    expect(existsSync(join(workspace.checkpointsDir, ckpt(1)))).toBe(false); // retention 1 removed it here
    const before = new Map(
      readdirSync(workspace.checkpointsDir)
        .filter((n) => /-epoch-\d+\.pt(\.json)?$/.test(n))
        .map((n) => [n, readFileSync(join(workspace.checkpointsDir, n))]),
    );
    expect(before.has(ckpt(3))).toBe(true);
    const from = events.messages.length;
    const r = await post(server.url, '/api/train/resume', { ...REQUEST, specific_checkpoint: ckpt(1), epochs: 3 });
    expect(r).toMatchObject({ status: 202, body: { resumed_from: ckpt(1), start_epoch: 2, epochs: 3 } });
    await events.waitForState(['completed'], from, 240_000);
    const lines = logs(events, from);
    expect(
      lines.some(
        (l) => l.startsWith('warning:') && l.includes(`restored it from the backup folder '${workspace.backupDir}'`),
      ),
    ).toBe(true);
    expect(
      lines.some((l) => l.includes(`'${ckpt(2)}' already exists`) || l.includes(`'${ckpt(3)}' already exists`)),
    ).toBe(true);

    for (const [name, bytes] of before) {
      if (existsSync(join(workspace.checkpointsDir, name))) {
        expect(readFileSync(join(workspace.checkpointsDir, name)), name).toEqual(bytes);
      }
    }
    // The pinned epoch 3 of the first run outlived retention 1 although it is neither newest nor resumed-from.
    expect(readFileSync(join(workspace.checkpointsDir, ckpt(3)))).toEqual(before.get(ckpt(3)));
    const listed = (await get(server.url, '/api/checkpoints')).body.checkpoints as CheckpointEntry[];
    expect(listed[0]).toMatchObject({
      name: ckpt(3, '-v2'),
      run_id: r.body.run_id,
      resumed_from: ckpt(1),
      is_latest: true,
      valid: true,
    });
    expect(listed.find((c) => c.name === ckpt(3))).toMatchObject({ pinned: true, valid: true, resumed_from: null });
    // The backup folder still has the first run's copies, and now the new timeline's too.
    for (const name of [ckpt(1), ckpt(2), ckpt(3), ckpt(2, '-v2'), ckpt(3, '-v2')]) {
      expect(readdirSync(workspace.backupDir), name).toContain(name);
    }
  });

  it('pins and unpins with the CLI', async () => {
    const unpin = await runCli(['checkpoints', '--config', workspace.configPath, '--unpin', ckpt(3)]);
    expect(unpin).toMatchObject({ code: 0, stdout: `unpinned ${ckpt(3)}\n` });
    const pin = await runCli(['checkpoints', '--config', workspace.configPath, '--pin', ckpt(3, '-v2')]);
    expect(pin).toMatchObject({ code: 0, stdout: `pinned ${ckpt(3, '-v2')}: retention never deletes it\n` });
    const listed = await runCli(['checkpoints', '--config', workspace.configPath, '--json']);
    const pins = (JSON.parse(listed.stdout).checkpoints as Array<{ name: string; pinned: boolean }>).filter(
      (c) => c.pinned,
    );
    expect(pins.map((c) => c.name)).toEqual([ckpt(3, '-v2')]);
    const unknown = await runCli(['checkpoints', '--config', workspace.configPath, '--pin', ckpt(42)]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`Specified checkpoint '${ckpt(42)}' not found`);
  });
});

// Where it cannot run, the store-level test with a missing folder still covers the warning.
describeOrSkip('a full backup disk under a real run', unlessRoot('mounting a tmpfs as the full disk'), () => {
  let workspace: TestWorkspace & { backupDir: string };
  let server: TestServer;
  let events: EventStream;
  let mounted = false;

  beforeAll(async () => {
    workspace = backedUpWorkspace(1);
    mkdirSync(workspace.backupDir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'asr-backup-full', workspace.backupDir], { stdio: 'pipe' });
    mounted = true;
    server = await startServer(workspace);
    events = await EventStream.open(server.wsUrl);
  });
  afterAll(async () => {
    events?.close();
    await server?.close();
    if (mounted) execFileSync('umount', [workspace.backupDir]);
    workspace?.cleanup();
  });

  it('warns for each copy that does not fit and the run completes with valid checkpoints', async () => {
    const from = events.messages.length;
    const r = await post(server.url, '/api/train/start', { ...REQUEST, epochs: 2, resume_from_checkpoint: false });
    expect(r.status).toBe(202);
    const end = await events.waitForState(['completed', 'failed'], from, 240_000);
    expect(end.payload.state).toBe('completed');
    const warnings = logs(events, from).filter((l) => l.startsWith('warning:') && l.includes('was not backed up'));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/ENOSPC|no space left/i);
    expect(warnings[0]).toContain('training goes on');
    expect(readdirSync(workspace.backupDir)).toEqual([]);
    const listed = (await get(server.url, '/api/checkpoints')).body.checkpoints as CheckpointEntry[];
    expect(listed[0]).toMatchObject({ name: ckpt(2), valid: true, is_latest: true });
  });
});
