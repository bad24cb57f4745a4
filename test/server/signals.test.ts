import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { EventStream, post } from './client.js';

const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

describe('server process signals', () => {
  let workspace: TestWorkspace;
  beforeAll(() => {
    workspace = makeWorkspace({ train: 32, val: 4, batchSize: 2 });
  });
  afterAll(() => workspace.cleanup());

  it('SIGTERM stops the run gracefully (a step checkpoint is committed) and then exits 0', async () => {
    const server = spawn(
      process.execPath,
      ['--import', tsx, 'src/server/serve-main.ts', '--config', workspace.configPath],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      server.stdout!.on('data', (chunk) => {
        buffered += String(chunk);
        const match = /asr-trainer API on (http:\/\/[^ ]+)/.exec(buffered);
        if (match) resolve(match[1]);
      });
      server.on('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
    });
    const events = await EventStream.open(`${url.replace(/^http/, 'ws')}/ws`);
    const run = await post(url, '/api/train/start', { model_name: 'conformer', dataset_name: 'ljspeech', epochs: 50 });
    expect(run.status).toBe(202);
    await events.waitFor((m) => m.type === 'progress' && m.payload.global_step >= 2, 60_000);
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    const saved = events.of('checkpoint').map((p) => p.name as string);
    expect(saved.length).toBeGreaterThan(0);
    const last = saved[saved.length - 1];
    expect(existsSync(join(workspace.checkpointsDir, `${last}.json`))).toBe(true);
    // The trainer released the folder lock on its way out.
    expect(readdirSync(workspace.checkpointsDir).filter((n) => n.endsWith('.lock'))).toEqual([]);
  });
});
