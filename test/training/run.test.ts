import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsrTrainerError } from '../../src/errors.js';
import { planRun, TrainingRun, type TrainingEvent } from '../../src/training/index.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';

type Progress = Extract<TrainingEvent, { type: 'progress' }>['payload'];

function collect(): { events: TrainingEvent[]; onEvent: (e: TrainingEvent) => void; of: <T>(type: string) => T[] } {
  const events: TrainingEvent[] = [];
  return {
    events,
    onEvent: (e) => events.push(e),
    of: <T>(type: string) => events.filter((e) => e.type === type).map((e) => e.payload as T),
  };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    expect(err).toBeInstanceOf(AsrTrainerError);
    return (err as AsrTrainerError).code;
  }
}

const pair = { model_name: 'conformer', dataset_name: 'ljspeech' };

describe('TrainingRun in process', () => {
  let workspace: TestWorkspace;
  beforeAll(() => {
    workspace = makeWorkspace({ train: 16, val: 4, batchSize: 4, saveEverySteps: 3 });
  });
  afterAll(() => workspace.cleanup());

  it('a second prepare of the same dataset reads both splits from the feature cache', async () => {
    const featureLines = async (): Promise<string[]> => {
      const c = collect();
      const run = await TrainingRun.prepare(
        workspace.config,
        { ...pair, epochs: 1, resume_from_checkpoint: false },
        { onEvent: c.onEvent },
      );
      await run.close();
      return c
        .of<{ message: string }>('log')
        .map((l) => l.message)
        .filter((m) => m.startsWith('Features:'));
    };
    await featureLines();
    expect(await featureLines()).toEqual([]);
    expect(readdirSync(join(workspace.root, '.cache', 'features')).sort()).toEqual([
      'ljspeech.train.fbank',
      'ljspeech.val.fbank',
    ]);
  });

  it('trains the epochs, validates each, saves and commits epoch checkpoints and appends metrics.jsonl', async () => {
    const c = collect();
    const latestAfterEachSave: string[] = [];
    const run = await TrainingRun.prepare(
      workspace.config,
      { ...pair, epochs: 2 },
      {
        onEvent: (e) => {
          c.onEvent(e);
          // The event follows the commit synchronously: the link has moved by now.
          if (e.type === 'checkpoint')
            latestAfterEachSave.push(readlinkSync(join(workspace.checkpointsDir, 'conformer-ljspeech-latest.pt')));
        },
      },
    );
    expect(run.plan).toMatchObject({ resumed_from: null, start_epoch: 1, start_step: 0, epochs: 2 });
    const outcome = await run.run();
    expect(outcome).toMatchObject({ state: 'completed', epoch: 2, last_checkpoint: 'conformer-ljspeech-epoch-2.pt' });
    const progress = c.of<Progress>('progress');
    expect(progress.map((p) => p.global_step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(progress.every((p) => p.steps_per_epoch === 4 && Number.isFinite(p.loss) && p.lr > 0)).toBe(true);
    const metrics = c.of<{ epoch: number; val_cer: number; val_wer: number }>('metrics');
    expect(metrics.map((m) => m.epoch)).toEqual([1, 2]);
    // Eight steps cannot make a perfect model: a rate of 0 would mean no utterance was compared.
    for (const m of metrics) expect([m.val_cer, m.val_wer].every((r) => Number.isFinite(r) && r > 0)).toBe(true);
    const saved = c.of<{ name: string }>('checkpoint').map((p) => p.name);
    // save_every_steps 3: a mid-epoch save at step 3 of each epoch, then the epoch checkpoint.
    expect(saved).toEqual([
      'conformer-ljspeech-epoch-1-step-3.pt',
      'conformer-ljspeech-epoch-1.pt',
      'conformer-ljspeech-epoch-2-step-3.pt',
      'conformer-ljspeech-epoch-2.pt',
    ]);
    expect(latestAfterEachSave).toEqual(saved);
    // One status model: the run's status is what its own events made it.
    const last = progress[progress.length - 1];
    expect(run.status()).toMatchObject({
      state: 'completed',
      epoch: 2,
      step: 4,
      global_step: 8,
      loss: last.loss,
      lr: last.lr,
    });
    expect(c.of<{ state: string }>('status').map((s) => s.state)).toEqual(['running', 'completed']);
    // Step checkpoints an epoch checkpoint supersedes are retention's to delete.
    expect(existsSync(join(workspace.checkpointsDir, 'conformer-ljspeech-epoch-1-step-3.pt'))).toBe(false);
    const lines = readFileSync(join(workspace.runsDir, 'conformer-ljspeech', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.kind === 'step')).toHaveLength(8);
    // The file records the rates the events reported, epoch by epoch.
    expect(lines.filter((l) => l.kind === 'epoch').map((l) => [l.epoch, l.val_cer, l.val_wer])).toEqual(
      metrics.map((m) => [m.epoch, m.val_cer, m.val_wer]),
    );
  });

  it('counts epochs as the total: resuming epoch 2 with epochs 3 trains epoch 3 only', async () => {
    const c = collect();
    const run = await TrainingRun.prepare(workspace.config, { ...pair, epochs: 3 }, { onEvent: c.onEvent });
    expect(run.plan).toMatchObject({
      resumed_from: 'conformer-ljspeech-epoch-2.pt',
      start_epoch: 3,
      start_global_step: 8,
    });
    await run.run();
    const progress = c.of<Progress>('progress');
    expect(progress.every((p) => p.epoch === 3)).toBe(true);
    expect(progress[0].global_step).toBe(9);
    const lines = readFileSync(join(workspace.runsDir, 'conformer-ljspeech', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(lines.filter((l) => l.includes('"kind":"epoch"'))).toHaveLength(3);
  });

  it('refuses a checkpoint already at or past the requested epochs, saying so', async () => {
    expect(await codeOf(TrainingRun.prepare(workspace.config, { ...pair, epochs: 3 }))).toBe(
      'E_CHECKPOINT_PAST_EPOCHS',
    );
    await expect(
      TrainingRun.prepare(workspace.config, {
        ...pair,
        epochs: 2,
        specific_checkpoint: 'conformer-ljspeech-epoch-3.pt',
      }),
    ).rejects.toThrow(/already trained 3 of the requested 2 epochs/);
  });

  it('refuses to resume a checkpoint trained with other model dimensions (E_CHECKPOINT_INCOMPATIBLE)', async () => {
    const wider = {
      ...workspace.config,
      models: { ...workspace.config.models, conformer: { ...workspace.config.models.conformer, d_model: 48 } },
    };
    await expect(planRun(wider, { ...pair, epochs: 9 })).rejects.toMatchObject({
      code: 'E_CHECKPOINT_INCOMPATIBLE',
      message: expect.stringContaining('d_model (checkpoint 32, requested 48)'),
    });
    expect((await planRun(wider, { ...pair, epochs: 9, resume_from_checkpoint: false })).resumed_from).toBeNull();
  });

  it('holds the folder lock while prepared: a second trainer on the pair gets E_LOCKED', async () => {
    const run = await TrainingRun.prepare(workspace.config, { ...pair, epochs: 4 });
    expect(await codeOf(TrainingRun.prepare(workspace.config, { ...pair, epochs: 4 }))).toBe('E_LOCKED');
    await run.close();
    const again = await TrainingRun.prepare(workspace.config, { ...pair, epochs: 4 });
    await again.close();
  });

  it('stop saves a step checkpoint and a resume continues with the losses of the run that never stopped', async () => {
    const fresh = makeWorkspace({ train: 16, val: 4, batchSize: 4 });
    try {
      const reference = collect();
      const ref = await TrainingRun.prepare(
        fresh.config,
        { model_name: 'conformer-ref', dataset_name: 'ljspeech', epochs: 2 },
        { onEvent: reference.onEvent },
      );
      await ref.run();
      const refLoss = new Map(reference.of<Progress>('progress').map((p) => [p.global_step, p.loss]));
      expect(refLoss.size).toBe(8);

      const first = collect();
      const interrupted: TrainingRun = await TrainingRun.prepare(
        fresh.config,
        { ...pair, epochs: 2 },
        {
          onEvent: (e) => {
            first.onEvent(e);
            if (e.type === 'progress' && e.payload.global_step === 5) interrupted.stop();
          },
        },
      );
      const outcome = await interrupted.run();
      expect(outcome).toMatchObject({ state: 'stopped', epoch: 2 });
      expect(outcome.step).toBeLessThan(4);
      expect(outcome.last_checkpoint).toBe(`conformer-ljspeech-epoch-2-step-${outcome.step}.pt`);

      const second = collect();
      const resumed = await TrainingRun.prepare(fresh.config, { ...pair, epochs: 2 }, { onEvent: second.onEvent });
      expect(resumed.plan).toMatchObject({
        resumed_from: outcome.last_checkpoint,
        start_epoch: 2,
        start_step: outcome.step,
      });
      await resumed.run();
      const before = first.of<Progress>('progress');
      const after = second.of<Progress>('progress');
      expect(after[0].global_step).toBe(outcome.global_step + 1);
      expect([...before, ...after].map((p) => p.global_step)).toEqual(
        [1, 2, 3, 4, 5, 6, 7, 8].slice(0, before.length + after.length),
      );
      for (const p of [...before, ...after]) {
        const expected = refLoss.get(p.global_step)!;
        expect(Math.abs(p.loss - expected)).toBeLessThanOrEqual(1e-6 * Math.abs(expected));
      }
    } finally {
      fresh.cleanup();
    }
  });
});
