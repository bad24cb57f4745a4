/**
 * POST /api/checkpoints/average and `asr-trainer average` end to end: a real server on a real port, tiny
 * models trained here by TrainingRun, the real addon in the averaging process, and Debian's torch
 * (/usr/bin/python3) reading the files to check the average against a mean computed by hand.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoreOnValidation, scoreUtterances } from '../../src/averaging/evaluate.js';
import { CheckpointStore, parseSidecar } from '../../src/checkpoints/index.js';
import { loadConfig, type LoadedConfig } from '../../src/config/index.js';
import type { AverageResult, CheckpointList, TrainingEvent } from '../../src/contract/index.js';
import { loadDataset } from '../../src/data/index.js';
import { loadNative } from '../../src/native/index.js';
import { buildApp } from '../../src/server/index.js';
import { TrainingRun } from '../../src/training/index.js';
import { runCli } from '../cli/run-cli.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';

let workspace: TestWorkspace;
let config: LoadedConfig;
let app: FastifyInstance;
let base: string;

const epochName = (epoch: number): string => `tiny-tiny-epoch-${epoch}.pt`;

beforeAll(async () => {
  workspace = makeWorkspace({ names: 'tiny', train: 10, val: 2, batchSize: 4, retention: 1 });
  config = loadConfig({ path: workspace.configPath });
  // The first run keeps every epoch, so the average has inputs; later runs apply retention 1.
  const keepAll = { ...config, training: { ...config.training, checkpoint_retention: 0 } };
  const run = await TrainingRun.prepare(keepAll, { model_name: 'tiny', dataset_name: 'tiny', epochs: 3 });
  await run.run();
  app = await buildApp(config);
  base = await app.listen({ host: '127.0.0.1', port: 0 });
}, 300_000);
afterAll(async () => {
  await app?.close();
  workspace?.cleanup();
});

async function post(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}/api/checkpoints/average`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

interface TorchComparison {
  floating: number;
  max_abs_diff: number;
  max_abs_value: number;
  integers_from_last: boolean;
  optimizer_state: number;
  epoch: number;
  global_step: number;
}

/** Reads the average and its inputs with torch and compares every weight with the inputs' mean. */
function compareWithTorch(average: string, inputs: string[]): TorchComparison {
  const script = [
    'import json, sys, torch',
    'avg = torch.load(sys.argv[1], map_location="cpu")',
    'ins = [torch.load(p, map_location="cpu") for p in sys.argv[2:]]',
    'floating, diff, biggest, ints = 0, 0.0, 0.0, True',
    'for key, value in avg["model"].items():',
    '    if value.is_floating_point():',
    '        mean = sum(i["model"][key].double() for i in ins) / len(ins)',
    '        diff = max(diff, (value.double() - mean).abs().max().item())',
    '        biggest = max(biggest, mean.abs().max().item())',
    '        floating += 1',
    '    else:',
    '        ints = ints and torch.equal(value, ins[-1]["model"][key])',
    'opt = avg["optimizer"]',
    'state = opt.get("state", {}) if isinstance(opt, dict) else {}',
    'print(json.dumps({"floating": floating, "max_abs_diff": diff, "max_abs_value": biggest,',
    '                  "integers_from_last": ints, "optimizer_state": len(state),',
    '                  "epoch": int(avg["epoch"]), "global_step": int(avg["global_step"])}))',
  ].join('\n');
  const result = spawnSync('/usr/bin/python3', ['-c', script, average, ...inputs], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (result.status !== 0) throw new Error(`python torch.load failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as TorchComparison;
}

describe('POST /api/checkpoints/average', () => {
  let average: AverageResult;

  it('averages the newest two epochs into a checkpoint whose weights are their mean', async () => {
    const { status, json } = await post({ model_name: 'tiny', dataset_name: 'tiny', last_n: 2 });
    expect(status, JSON.stringify(json)).toBe(201);
    average = json as unknown as AverageResult;
    expect(average).toMatchObject({
      name: 'tiny-tiny-avg-2-3.pt',
      averaged_from: [epochName(2), epochName(3)],
      epoch: 3,
      warnings: [],
    });
    const dir = workspace.checkpointsDir;
    const torch = compareWithTorch(join(dir, average.name), [join(dir, epochName(2)), join(dir, epochName(3))]);
    expect(torch.floating).toBeGreaterThan(10);
    // float64 accumulation cast back to float32: within float32 rounding of the mean.
    expect(torch.max_abs_diff).toBeLessThanOrEqual(1e-6 * Math.max(1, torch.max_abs_value));
    expect(torch.integers_from_last).toBe(true);
    expect(torch.optimizer_state).toBe(0);
    expect(torch.epoch).toBe(3);
  });

  it('commits a sidecar with its inputs and its own validation figures, listed beside the epochs', async () => {
    const dir = workspace.checkpointsDir;
    const check = parseSidecar(readFileSync(join(dir, `${average.name}.json`), 'utf8'));
    const epoch3 = parseSidecar(readFileSync(join(dir, `${epochName(3)}.json`), 'utf8'));
    if (!check.ok || !epoch3.ok) throw new Error('unreadable sidecar');
    expect(check.sidecar).toMatchObject({
      kind: 'average',
      name: average.name,
      epoch: 3,
      global_step: epoch3.sidecar.global_step,
      averaged_from: [epochName(2), epochName(3)],
      resumed_from: null,
    });
    for (const key of ['val_loss', 'val_cer', 'val_wer'] as const) {
      expect(typeof check.sidecar.metrics[key], key).toBe('number');
      expect(check.sidecar.metrics[key]).toBe(average.metrics[key]);
    }
    // The figures are the file's own: scoring it again here, with the addon, gives the same ones.
    const again = await scoreOnValidation(loadNative(), config, 'tiny', join(dir, average.name), 4);
    expect(again).toMatchObject({ val_cer: average.metrics.val_cer, val_wer: average.metrics.val_wer, utterances: 2 });
    // Any utterances are scored the same way (the demo's held-out set): here the validation ones, cached apart.
    const val = loadDataset(config, 'tiny').val;
    expect(await scoreUtterances(loadNative(), config, val, 'tiny.scored', join(dir, average.name), 4)).toEqual(again);

    const list = (await (await fetch(`${base}/api/checkpoints?model_name=tiny`)).json()) as CheckpointList;
    const row = list.checkpoints.find((c) => c.name === average.name);
    expect(row).toMatchObject({ kind: 'average', valid: true, averaged_from: [epochName(2), epochName(3)] });
    expect(readlinkSync(join(dir, 'tiny-tiny-latest.pt'))).toBe(epochName(3));
  });

  it('transcribes with the average', async () => {
    const res = await fetch(`${base}/api/transcribe?checkpoint=${average.name}`, {
      method: 'POST',
      headers: { 'content-type': 'audio/wav' },
      body: readFileSync(join(workspace.datasetDir, 'wavs', 'TINY-0010.wav')),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { checkpoint: string }).checkpoint).toBe(average.name);
  });

  it.each([
    [{ names: ['tiny-tiny-epoch-77.pt', epochName(1)] }, 404, 'E_CHECKPOINT_NOT_FOUND'],
    [{ names: [epochName(1)] }, 400, 'E_INVALID_ARGUMENT'],
    [{ last_n: 1 }, 400, 'E_INVALID_ARGUMENT'],
    [{ last_n: 2, names: [epochName(1), epochName(2)] }, 400, 'E_INVALID_ARGUMENT'],
    [{}, 400, 'E_INVALID_ARGUMENT'],
    [{ last_n: '2' }, 400, 'E_INVALID_ARGUMENT'],
    [{ last_n: 2, keep: true }, 400, 'E_INVALID_ARGUMENT'],
  ])('answers %j with %i %s', async (request, status, code) => {
    const res = await post({ model_name: 'tiny', dataset_name: 'tiny', ...request });
    expect(res.status, JSON.stringify(res.json)).toBe(status);
    expect(res.json).toMatchObject({ statusCode: status, code });
    expect(String(res.json.message).length).toBeGreaterThan(20);
  });

  it('answers 400 for a dataset config.yaml does not have', async () => {
    const res = await post({ model_name: 'tiny', dataset_name: 'nope', last_n: 2 });
    expect(res).toMatchObject({ status: 400, json: { code: 'E_UNKNOWN_DATASET' } });
  });

  it('answers 409 E_LOCKED while another writer holds the pair', async () => {
    const lock = await new CheckpointStore({ dir: workspace.checkpointsDir }).acquireLock('tiny', 'tiny');
    try {
      const res = await post({ model_name: 'tiny', dataset_name: 'tiny', last_n: 2 });
      expect(res.status).toBe(409);
      expect(res.json).toMatchObject({ code: 'E_LOCKED' });
      expect(String(res.json.message)).toMatch(/^Cannot average now: /);
    } finally {
      await lock.release();
    }
  });
});

describe('asr-trainer average', () => {
  it('averages the newest epochs and prints the name and the validation figures', async () => {
    const cli = await runCli(['average', '--config', workspace.configPath, '--last', '2', '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    const result = JSON.parse(cli.stdout) as AverageResult;
    expect(result.name).toMatch(/^tiny-tiny-avg-\d+-\d+(-v\d+)?\.pt$/);
    expect(result.averaged_from).toHaveLength(2);
    expect(typeof result.metrics.val_cer).toBe('number');
    expect(existsSync(join(workspace.checkpointsDir, `${result.name}.json`))).toBe(true);
    expect(result.name).toBe('tiny-tiny-avg-2-3-v2.pt');
    const text = await runCli(['average', '--config', workspace.configPath, '-m', 'tiny', '-d', 'tiny', '--last', '2']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^tiny-tiny-avg-2-3-v3\.pt/);
    expect(text.stdout).toMatch(/val CER \d+\.\d\d%, WER \d+\.\d\d%/);
  }, 300_000);

  it('exits 2 with the reason for a bad request', async () => {
    const one = await runCli(['average', '--config', workspace.configPath, '--last', '1']);
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/at least 2 checkpoints, got last_n 1 \(E_INVALID_ARGUMENT\)/);
    const neither = await runCli(['average', '--config', workspace.configPath]);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/exactly one of --last N and --names/);
  });
});

describe('an average among training runs', () => {
  it('is passed over by auto-resume and kept by retention', async () => {
    const run = await TrainingRun.prepare(config, { model_name: 'tiny', dataset_name: 'tiny', epochs: 5 });
    expect(run.plan.resumed_from).toBe(epochName(3));
    await run.run();
    const names = readdirSync(workspace.checkpointsDir);
    expect(names).toContain('tiny-tiny-avg-2-3.pt');
    // checkpoint_retention 1: of epochs 1, 2 and 4 only the best can have stayed.
    expect([1, 2, 4].filter((e) => names.includes(epochName(e))).length).toBeLessThanOrEqual(1);
  }, 300_000);

  it('resumes from the average by name, saying the optimizer moments restart', async () => {
    const events: TrainingEvent[] = [];
    const run = await TrainingRun.prepare(
      config,
      { model_name: 'tiny', dataset_name: 'tiny', epochs: 4, specific_checkpoint: 'tiny-tiny-avg-2-3.pt' },
      { onEvent: (e) => events.push(e) },
    );
    expect(run.plan).toMatchObject({ resumed_from: 'tiny-tiny-avg-2-3.pt', start_epoch: 4, start_step: 0 });
    const outcome = await run.run();
    expect(outcome).toMatchObject({ state: 'completed', epoch: 4 });
    const saved = parseSidecar(readFileSync(join(workspace.checkpointsDir, `${outcome.last_checkpoint}.json`), 'utf8'));
    expect(saved.ok && saved.sidecar).toMatchObject({ kind: 'epoch', epoch: 4, resumed_from: 'tiny-tiny-avg-2-3.pt' });
    const warnings = events.filter((e) => e.type === 'log' && e.payload.level === 'warning').map((e) => e.payload);
    expect(JSON.stringify(warnings)).toMatch(/optimizer's moments .* restart from zero/);
    expect(JSON.stringify(warnings)).toMatch(/schedule continues from global step \d+/);
  }, 300_000);
});

describe('averaging models of different shapes', () => {
  it('answers 409 E_SHAPE_MISMATCH and leaves no file behind', async () => {
    const dir = workspace.checkpointsDir;
    const native = loadNative();
    const wider = new native.Trainer(
      { d_model: 32, num_layers: 1, num_heads: 2, ffn_dim: 48, conv_kernel: 7 },
      {
        threads: 1,
      },
    );
    const store = new CheckpointStore({ dir });
    const input = (await store.list({ model: 'tiny', dataset: 'tiny' })).find((e) => e.kind === 'epoch' && e.valid)!;
    const name = epochName(9);
    await wider.save(store.pathOf(name), { epoch: 9, step: 1, global_step: 1 });
    await store.commit({
      name,
      model: 'tiny',
      dataset: 'tiny',
      step: 1,
      global_step: 1,
      config_hash: 'x',
      run_id: 'x',
    });
    try {
      const before = readdirSync(dir).sort();
      const res = await post({ model_name: 'tiny', dataset_name: 'tiny', names: [input.name, name] });
      expect(res.status, JSON.stringify(res.json)).toBe(409);
      expect(res.json).toMatchObject({ code: 'E_SHAPE_MISMATCH' });
      expect(readdirSync(dir).sort()).toEqual(before);
    } finally {
      rmSync(join(dir, `${name}.json`));
      rmSync(join(dir, name));
    }
  });
});
