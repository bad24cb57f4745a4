import { mkdtempSync, rmSync, appendFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricsLog, readMetricsHistory, type MetricsRecord } from '../../src/training/metrics-log.js';

const step = (global_step: number, loss: number, run_id = 'a'): MetricsRecord => ({
  kind: 'step',
  run_id,
  epoch: 1,
  step: global_step,
  global_step,
  loss,
  lr: 0.001,
  utterances_per_s: 10,
  time: new Date().toISOString(),
});

describe('metrics.jsonl', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('appends across runs and reads back the branch that led to the current model', async () => {
    const root = mkdtempSync(join(tmpdir(), 'asr-metrics-'));
    dirs.push(root);
    const log = new MetricsLog(root, 'conformer', 'ljspeech');
    expect(log.path).toBe(join(root, 'conformer-ljspeech', 'metrics.jsonl'));
    expect(await readMetricsHistory(log.path)).toEqual([]);
    await log.append([step(1, 5), step(2, 4), step(3, 3)]);
    await log.append([
      {
        kind: 'epoch',
        run_id: 'a',
        epoch: 1,
        global_step: 3,
        train_loss: 3,
        val_loss: 3.5,
        val_cer: 0.9,
        val_wer: 1,
        time: '',
      },
      step(4, 2.5),
      step(5, 2.4),
    ]);
    // A resume from the epoch-1 checkpoint (global step 3) replays steps 4.. on a new branch.
    await log.append([step(4, 2.6, 'b'), step(5, 2.2, 'b')]);
    appendFileSync(log.path, '{"kind":"step","glo'); // a crash mid-line
    const history = await readMetricsHistory(log.path);
    expect(history.map((r) => [r.kind, r.global_step, r.run_id])).toEqual([
      ['step', 1, 'a'],
      ['step', 2, 'a'],
      ['step', 3, 'a'],
      ['epoch', 3, 'a'],
      ['step', 4, 'b'],
      ['step', 5, 'b'],
    ]);
  });

  it('writes recorded lines only when flushed, in the order recorded, and reports a failed write instead of throwing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'asr-metrics-'));
    dirs.push(root);
    const failures: Error[] = [];
    const log = new MetricsLog(root, 'conformer', 'ljspeech', (err) => failures.push(err));
    log.record(step(1, 5));
    log.record(step(2, 4));
    expect(await readMetricsHistory(log.path)).toEqual([]);
    const first = log.flush();
    log.record(step(3, 3));
    await Promise.all([first, log.flush()]);
    expect((await readMetricsHistory(log.path)).map((r) => r.global_step)).toEqual([1, 2, 3]);
    expect(failures).toEqual([]);

    // The run folder's place taken by a file: the append fails, the flush still resolves.
    const blocked = new MetricsLog(join(root, 'not-a-folder'), 'conformer', 'ljspeech', (err) => failures.push(err));
    writeFileSync(join(root, 'not-a-folder'), '');
    blocked.record(step(1, 5));
    await blocked.flush();
    expect(failures).toHaveLength(1);
  });
});
