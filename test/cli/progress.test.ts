/** What `asr-trainer train` prints for a data-parallel run's events, into a real stream (plain-line mode). */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProgressReporter } from '../../src/cli/progress.js';
import type { ProgressPayload, StatusPayload } from '../../src/contract/index.js';
import { idleStatus } from '../../src/training/status.js';

function reporter(): { reporter: ProgressReporter; text: () => string } {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  return { reporter: new ProgressReporter(out, { tty: false, epochs: 2 }), text: () => chunks.join('') };
}

const status = (fields: Partial<StatusPayload>): StatusPayload => ({
  ...idleStatus(),
  state: 'running',
  run_id: 'r',
  epochs: 2,
  ...fields,
});

const progress = (step: number, rank_step_s?: number[]): ProgressPayload => ({
  run_id: 'r',
  epoch: 1,
  step,
  global_step: step,
  steps_per_epoch: 4,
  loss: 2,
  lr: 0.001,
  utterances_per_s: 10,
  ...(rank_step_s ? { rank_step_s } : {}),
});

describe('train progress output', () => {
  it('names the world size and the slowest rank with its step time when more than one process trains', () => {
    const { reporter: r, text } = reporter();
    r.handle({ type: 'status', payload: status({ world_size: 2 }) });
    r.handle({ type: 'progress', payload: progress(1, [0.25, 0.625]) });
    r.handle({ type: 'progress', payload: progress(4, [0.75, 0.5]) });
    const lines = text().trimEnd().split('\n');
    expect(lines[0]).toBe('world size 2');
    expect(lines[1]).toMatch(/^epoch 1\/2 step 1\/4 \(global 1\) .* world 2, slowest rank 1 0\.625 s\/step$/);
    expect(lines[2]).toMatch(/ world 2, slowest rank 0 0\.750 s\/step$/);
  });

  it('says when a restart changes the world, once per change', () => {
    const { reporter: r, text } = reporter();
    r.handle({ type: 'status', payload: status({ world_size: 4 }) });
    r.handle({ type: 'status', payload: status({ world_size: 4 }) });
    r.handle({ type: 'status', payload: status({ world_size: 2, restarts: 1 }) });
    expect(text()).toBe('world size 4\nworld size 2, restarts 1\n');
  });

  it('prints no world or rank figures for one process', () => {
    const { reporter: r, text } = reporter();
    r.handle({ type: 'status', payload: status({ world_size: 1 }) });
    r.handle({ type: 'progress', payload: progress(1) });
    expect(text()).not.toMatch(/world|rank/);
    expect(text()).toMatch(/^epoch 1\/2 step 1\/4 \(global 1\) {2}loss 2\.0000/);
  });
});
