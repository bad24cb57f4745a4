/**
 * Every corpus format end to end: tiny corpora made from espeak-ng clips with Debian's encoders, one
 * epoch of training each through TrainingRun (whose end scores the test splits), then `evaluate` on a
 * named split in process, through POST /api/evaluate on a real server and through the CLI.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CheckpointStore } from '../../src/checkpoints/index.js';
import type { CheckpointList, EvaluateResult } from '../../src/contract/index.js';
import { evaluateCheckpoint } from '../../src/evaluation/index.js';
import { buildApp } from '../../src/server/index.js';
import { TrainingRun } from '../../src/training/index.js';
import { runCli } from '../cli/run-cli.js';
import { makeCorpora, missingCodecTools } from '../helpers/corpora.js';
import { describeOrSkip } from '../helpers/skip.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';

const DATASETS = {
  libri:
    '{ path: corpora/LibriSpeech, train: [train-clean-100], validation: [dev-clean], test: [test-clean, test-other] }',
  cv: '{ path: corpora/cv, format: commonvoice }',
  mine: '{ format: nemo, train: [corpora/manifests/train.json], validation: [corpora/manifests/dev.json], test: [corpora/manifests/test.json] }',
  old: '{ format: kaldi, train: [corpora/kaldi/train], validation: [corpora/kaldi/dev], test: [corpora/kaldi/eval] }',
  both: '{ combine: [libri, mine] }',
  flawed: '{ path: corpora/manifests/flawed.json, val_fraction: 0, max_skipped_fraction: 0.5 }',
};

describeOrSkip('training on each corpus format', missingCodecTools(), () => {
  let workspace: TestWorkspace;
  let app: FastifyInstance | undefined;
  beforeAll(() => {
    workspace = makeWorkspace({ names: 'tiny', epochs: 1, datasets: DATASETS });
    const { placements } = makeCorpora(join(workspace.root, 'corpora'));
    const line = (audio: string, text: string, offset: number, duration: number) =>
      JSON.stringify({ audio_filepath: audio, text, offset, duration });
    writeFileSync(join(workspace.root, 'corpora', 'not-audio.mp3'), 'this is no mp3');
    writeFileSync(
      join(workspace.root, 'corpora', 'manifests', 'flawed.json'),
      [
        ...placements.slice(0, 4).map((p) => line('../long/session.wav', p.clip.text, p.offset, p.duration)),
        line('../gone.wav', 'go left', 0, 1),
        line('../not-audio.mp3', 'turn on', 0, 1),
        line('../long/session.wav', 'a transcript far too long for a twentieth of a second', 0.01, 0.05),
      ].join('\n'),
    );
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    workspace.cleanup();
  });

  it.each([
    ['libri', 'test-other', 2, ['test-clean', 'test-other']],
    ['cv', 'test', 1, ['test']],
    ['mine', 'test', 1, ['test']],
    ['old', 'eval', 1, ['eval']],
    ['both', 'libri/test-clean', 1, ['libri/test-clean', 'libri/test-other', 'mine/test']],
  ])(
    '%s trains an epoch, scores its test splits at the end and evaluates on %s',
    async (dataset, split, utterances, tests) => {
      const run = await TrainingRun.prepare(workspace.config, { model_name: 'tiny', dataset_name: dataset, epochs: 1 });
      expect(await run.run()).toMatchObject({ state: 'completed', last_checkpoint: `tiny-${dataset}-epoch-1.pt` });
      const listed = await new CheckpointStore({ dir: workspace.checkpointsDir }).list({ dataset });
      expect(listed.find((entry) => entry.is_best)?.test?.map((s) => s.split)).toEqual(tests);

      const result = await evaluateCheckpoint(workspace.config, {
        model_name: 'tiny',
        dataset_name: dataset,
        split,
        beam: 2,
      });
      expect(result).toMatchObject({ checkpoint: `tiny-${dataset}-epoch-1.pt`, dataset_name: dataset, beam: 2 });
      expect(result.splits).toHaveLength(1);
      expect(result.splits[0]).toMatchObject({ split, utterances });
      // One epoch cannot make a perfect model: a rate of 0 would mean nothing was compared.
      expect(result.splits[0].cer).toBeGreaterThan(0);
    },
    120_000,
  );

  it("missing, unreadable and too short audio is skipped, counted and named in the run's log; the rest trains", async () => {
    const warnings: string[] = [];
    const run = await TrainingRun.prepare(
      workspace.config,
      { model_name: 'tiny', dataset_name: 'flawed', epochs: 1 },
      { onEvent: (e) => e.type === 'log' && e.payload.level === 'warning' && warnings.push(e.payload.message) },
    );
    expect(await run.run()).toMatchObject({ state: 'completed' });
    const skips = warnings.find((w) => w.includes('skipped'));
    expect(skips).toMatch(/^3 of 7 utterances \(42\.9%\) of dataset 'flawed' skipped \(/);
    expect(skips).toContain('1 missing wav');
    expect(skips).toContain('1 unreadable wav');
    expect(skips).toMatch(/1 too short: \d+ frames after subsampling for \d+ tokens/);
    expect(skips).toContain('first: ../gone@0, ../not-audio@0, ../long/session@0.01');
  }, 120_000);

  it('POST /api/evaluate scores each split of a role; an unknown split is a 400 naming the known ones', async () => {
    app = await buildApp(workspace.config);
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const post = async (body: unknown) => {
      const res = await fetch(`${base}/api/evaluate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    const scored = await post({ model_name: 'tiny', dataset_name: 'libri', split: 'test' });
    expect(scored.status, JSON.stringify(scored.json)).toBe(200);
    const result = scored.json as unknown as EvaluateResult;
    expect(result.splits.map((s) => [s.split, s.utterances])).toEqual([
      ['test-clean', 1],
      ['test-other', 2],
    ]);
    const unknown = await post({ model_name: 'tiny', dataset_name: 'libri', split: 'test-noisy' });
    expect(unknown.status).toBe(400);
    expect(unknown.json).toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    expect(unknown.json.message).toContain(
      "Dataset 'libri' has no split 'test-noisy'. Its splits: train, validation, test",
    );

    const listing = (await (await fetch(`${base}/api/checkpoints?dataset_name=cv`)).json()) as CheckpointList;
    expect(listing.checkpoints.find((entry) => entry.is_best)?.test).toEqual([
      { split: 'test', utterances: 1, cer: expect.any(Number), wer: expect.any(Number) },
    ]);
  }, 120_000);

  it('asr-trainer evaluate --json prints the same figures as the API', async () => {
    const cli = await runCli([
      'evaluate',
      ...['--config', workspace.configPath, '--model', 'tiny', '--dataset', 'old', '--split', 'eval', '--json'],
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    const printed = JSON.parse(cli.stdout) as EvaluateResult;
    const direct = await evaluateCheckpoint(workspace.config, {
      model_name: 'tiny',
      dataset_name: 'old',
      split: 'eval',
    });
    expect(printed).toEqual(direct);
  }, 120_000);
});
