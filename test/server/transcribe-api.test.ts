/** POST /api/transcribe on the real app (inject), with a checkpoint trained here by TrainingRun. */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type LoadedConfig } from '../../src/config/index.js';
import { buildApp } from '../../src/server/index.js';
import { TrainingRun } from '../../src/training/index.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { runCli } from '../cli/run-cli.js';

let workspace: TestWorkspace;
let config: LoadedConfig;
let app: FastifyInstance;

beforeAll(async () => {
  workspace = makeWorkspace({ names: 'tiny', train: 10, val: 2, batchSize: 4 });
  config = loadConfig({ path: workspace.configPath });
  app = await buildApp(config);
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  workspace?.cleanup();
});

function clip(id: string): Buffer {
  return readFileSync(join(workspace.datasetDir, 'wavs', `${id}.wav`));
}

function multipart(files: Array<{ name: string; data: Buffer }>): { body: Buffer; contentType: string } {
  const boundary = '----asr-test-boundary';
  const chunks: Buffer[] = [];
  for (const f of files) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="audio"; filename="${f.name}"\r\nContent-Type: audio/wav\r\n\r\n`,
      ),
    );
    chunks.push(f.data, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

describe('POST /api/transcribe', () => {
  it('answers 404 before any checkpoint exists', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/transcribe',
      headers: { 'content-type': 'audio/wav' },
      payload: clip('TINY-0010'),
    });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'E_NO_CHECKPOINT' });
  });

  it('transcribes a WAV body with the best checkpoint, the same text as the CLI', async () => {
    const run = await TrainingRun.prepare(config, { model_name: 'tiny', dataset_name: 'tiny', epochs: 2 });
    await run.run();
    const res = await app.inject({
      method: 'POST',
      url: '/api/transcribe',
      headers: { 'content-type': 'audio/wav' },
      payload: clip('TINY-0010'),
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as {
      text: string;
      checkpoint: string;
      weights: string;
      results: Array<{ file: string; text: string }>;
    };
    expect(body.checkpoint).toMatch(/^tiny-tiny-epoch-[12]\.pt$/);
    expect(body.weights).toBe('raw'); // ema_decay is off in this workspace
    expect(body.text).toMatch(/^[a-z' ]*$/);
    expect(body.results).toEqual([{ file: 'audio.wav', text: body.text }]);
    const cli = await runCli([
      'transcribe',
      '--config',
      workspace.configPath,
      '--checkpoint',
      body.checkpoint,
      join(workspace.datasetDir, 'wavs', 'TINY-0010.wav'),
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toBe(`${body.text}\n`);
  });

  it('transcribes every file part of a multipart body with a named checkpoint', async () => {
    const { body, contentType } = multipart([
      { name: 'a.wav', data: clip('TINY-0010') },
      { name: 'b.wav', data: clip('TINY-0011') },
    ]);
    const res = await app.inject({
      method: 'POST',
      url: '/api/transcribe?checkpoint=tiny-tiny-epoch-1.pt',
      headers: { 'content-type': contentType },
      payload: body,
    });
    expect(res.statusCode, res.body).toBe(200);
    const json = res.json() as { checkpoint: string; results: Array<{ file: string; text: string }> };
    expect(json.checkpoint).toBe('tiny-tiny-epoch-1.pt');
    expect(json.results.map((r) => r.file)).toEqual(['a.wav', 'b.wav']);
  });

  it("answers 404 with the guide's message for an unknown checkpoint", async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/transcribe?checkpoint=tiny-tiny-epoch-77.pt',
      headers: { 'content-type': 'audio/wav' },
      payload: clip('TINY-0010'),
    });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({
      code: 'E_CHECKPOINT_NOT_FOUND',
      message: "Specified checkpoint 'tiny-tiny-epoch-77.pt' not found",
    });
  });

  it('decodes with a beam search when asked, the same text as the CLI with --beam', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/transcribe?checkpoint=tiny-tiny-epoch-2.pt&beam=4',
      headers: { 'content-type': 'audio/wav' },
      payload: clip('TINY-0010'),
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { text: string; checkpoint: string };
    expect(body.text).toMatch(/^[a-z' ]*$/);
    const cli = await runCli([
      'transcribe',
      '--config',
      workspace.configPath,
      '--checkpoint',
      body.checkpoint,
      '--beam',
      '4',
      join(workspace.datasetDir, 'wavs', 'TINY-0010.wav'),
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toBe(`${body.text}\n`);
  });

  it.each(['0', '257', 'abc', '1.5', ''])('answers 400 E_INVALID_ARGUMENT for beam=%j', async (beam) => {
    const res = await app.inject({
      method: 'POST',
      url: `/api/transcribe?beam=${beam}`,
      headers: { 'content-type': 'audio/wav' },
      payload: clip('TINY-0010'),
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: expect.stringMatching(/beam width from 1 to 256/),
    });
  });

  it('refuses a bad --beam on the command line with exit code 2', async () => {
    const cli = await runCli([
      'transcribe',
      '--config',
      workspace.configPath,
      '--beam',
      '0',
      join(workspace.datasetDir, 'wavs', 'TINY-0010.wav'),
    ]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/beam width from 1 to 256/);
  });

  it('answers 400 for an empty body and 422 for bytes that are not audio', async () => {
    const empty = await app.inject({
      method: 'POST',
      url: '/api/transcribe',
      headers: { 'content-type': 'audio/wav' },
      payload: Buffer.alloc(0),
    });
    expect(empty.statusCode).toBe(400);
    const garbage = await app.inject({
      method: 'POST',
      url: '/api/transcribe',
      headers: { 'content-type': 'audio/wav' },
      payload: Buffer.from('this is not a wav file at all'),
    });
    expect(garbage.statusCode, garbage.body).toBe(422);
    expect(garbage.json()).toMatchObject({ code: 'E_AUDIO_READ' });
  });
});
