/**
 * Full disk: the checkpoint folder sits on a small tmpfs (mounted here as root; `ulimit -f` where
 * mounting is impossible). The save that does not fit fails the run with a clear error event and
 * status, the checkpoints before it stay valid and loadable, no partial file is taken for valid, and
 * once space is freed a resume works.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { EventStream, get, post, startServer, type TestServer, type Json } from '../server/client.js';
import { recordFigures } from './summary.js';
import { AddonLoader, checkFolder, spawnServer, type ServerProcess } from './helpers.js';

const REQUEST = { model_name: 'conformer', dataset_name: 'ljspeech' };

function tryMount(dir: string, bytes: number): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'chaos-full-disk', dir], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
  }
}

describe('a full disk under the checkpoint folder', () => {
  let workspace: TestWorkspace;
  let server: TestServer | null = null;
  let limited: ServerProcess | null = null;
  let events: EventStream;
  let url: string;
  let mounted = false;
  let fileSize = 0;

  beforeAll(async () => {
    workspace = makeWorkspace({ train: 8, val: 2, batchSize: 4, retention: 0, saveEverySteps: 1 });
    // How big one checkpoint is: one short run in the ordinary folder.
    const calibration = await startServer(workspace);
    const run = await post(calibration.url, '/api/train/start', { ...REQUEST, epochs: 1 });
    expect(run.status).toBe(202);
    await calibration.app.supervisor.waitForExit();
    await calibration.close();
    fileSize = statSync(join(workspace.checkpointsDir, 'conformer-ljspeech-epoch-1.pt')).size;
    rmSync(workspace.checkpointsDir, { recursive: true, force: true });
    mkdirSync(workspace.checkpointsDir, { recursive: true });

    // Room for three checkpoints and their sidecars, not four.
    const size = Math.ceil((3.5 * fileSize) / 4096) * 4096;
    const mountError = tryMount(workspace.checkpointsDir, size);
    mounted = mountError === null;
    if (mounted) {
      console.log(
        `full disk: tmpfs of ${size} bytes on ${workspace.checkpointsDir} (a checkpoint is ${fileSize} bytes)`,
      );
      server = await startServer(workspace);
      url = server.url;
    } else {
      // Without mount rights: a file size limit on the server (SIGXFSZ ignored, so a write past it fails with EFBIG).
      console.log(`full disk: cannot mount a tmpfs (${mountError}); falling back to ulimit -f on the server process`);
      limited = await spawnServer(workspace.configPath, { fileSizeLimitKiB: Math.floor((0.9 * fileSize) / 1024) });
      url = limited.url;
    }
    events = await EventStream.open(`${url.replace(/^http/, 'ws')}/ws`);
  });
  afterAll(async () => {
    events?.close();
    await server?.close();
    limited?.killGroup();
    if (mounted) {
      try {
        execFileSync('umount', [workspace.checkpointsDir], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', workspace.checkpointsDir], { stdio: 'pipe' });
      }
    }
    workspace?.cleanup();
  });

  it('fails the save clearly, keeps the earlier checkpoints sound, and resumes once space is freed', async () => {
    const loader = new AddonLoader();
    let from = events.messages.length;
    const run = await post(url, '/api/train/start', { ...REQUEST, epochs: 50 });
    expect(run.status).toBe(202);
    const end = await events.waitForState(['failed', 'completed', 'stopped'], from, 120_000);
    expect(end.payload.state).toBe('failed');
    const error = end.payload.error as Json;
    expect(error.code).toBe('E_IO');
    expect(error.message).toMatch(/space|ENOSPC|too large|EFBIG/i);
    const errorLog = events.messages
      .slice(from)
      .find(
        (m) =>
          m.type === 'log' && m.payload.level === 'error' && /space|ENOSPC|too large|EFBIG/i.test(m.payload.message),
      );
    expect(errorLog, 'an error log event that says the disk is full').toBeDefined();
    const status = await get(url, '/api/train/status');
    expect(status.body).toMatchObject({ state: 'failed', error: { code: 'E_IO' } });
    const committed = events.messages
      .slice(from)
      .filter((m) => m.type === 'checkpoint')
      .map((m) => m.payload.name as string);
    expect(committed.length).toBeGreaterThanOrEqual(2);

    // Everything listed valid is whole and loads; every committed checkpoint is still valid.
    const afterFailure = await checkFolder(workspace.checkpointsDir, loader);
    for (const name of committed) expect(afterFailure.valid.map((e) => e.name)).toContain(name);
    const listed = (await get(url, '/api/checkpoints')).body.checkpoints as Array<Json>;
    expect(
      listed
        .filter((c) => c.valid)
        .map((c) => c.name)
        .sort(),
    ).toEqual(afterFailure.valid.map((e) => e.name).sort());
    const leftovers = readdirSync(workspace.checkpointsDir);

    // A resume while the disk is still full fails the same clear way, never from a partial file.
    from = events.messages.length;
    const again = await post(url, '/api/train/start', { ...REQUEST, epochs: 50 });
    expect(again.status).toBe(202);
    expect(again.body.resumed_from).toBe(afterFailure.valid[0]!.name);
    const secondEnd = await events.waitForState(['failed', 'completed', 'stopped'], from, 120_000);
    expect(secondEnd.payload).toMatchObject({ state: 'failed', error: { code: 'E_IO' } });
    const afterSecond = await checkFolder(workspace.checkpointsDir, loader);

    // Free space: the next start resumes the newest sound checkpoint and saves again.
    if (mounted) execFileSync('mount', ['-o', 'remount,size=64m', workspace.checkpointsDir]);
    else {
      events.close();
      limited!.killGroup();
      await limited!.exited;
      limited = await spawnServer(workspace.configPath);
      url = limited.url;
      events = await EventStream.open(`${url.replace(/^http/, 'ws')}/ws`);
    }
    from = events.messages.length;
    const resumed = await post(url, '/api/train/start', { ...REQUEST, epochs: 50 });
    expect(resumed.status).toBe(202);
    expect(resumed.body.resumed_from).toBe(afterSecond.valid[0]!.name);
    const saved = await events.waitFor((m) => m.type === 'checkpoint', 60_000, from);
    expect((await post(url, '/api/train/stop', {})).status).toBe(202);
    const stopped = await events.waitForState(['stopped', 'failed', 'completed'], from);
    expect(stopped.payload.state).toBe('stopped');
    const final = await checkFolder(workspace.checkpointsDir, loader);
    expect(final.valid.map((e) => e.name)).toContain(saved.payload.name);
    expect(final.invalid.filter((e) => e.valid)).toEqual([]);

    recordFigures('full_disk', {
      filesystem: mounted ? `tmpfs of ${Math.ceil((3.5 * fileSize) / 4096) * 4096} bytes` : 'ulimit -f (mount failed)',
      checkpoint_bytes: fileSize,
      committed_before_full: committed.length,
      files_in_folder_when_full: leftovers.length,
      failed_saves: 2,
      error_status: error.message,
      checkpoints_loaded_in_addon: loader.count,
      resumed_after_freeing: resumed.body.resumed_from,
    });
  });
});
