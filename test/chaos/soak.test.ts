/**
 * Soak: 20 lightweight epochs in one trainer process. Its resident memory after epoch 2 grows by less
 * than 5 % to the end, and its open file descriptors do not grow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkspace } from '../helpers/workspace.js';
import { closeServedWorkspace, post, serveWorkspace, type EventStream, type TestServer } from '../server/client.js';
import { recordFigures } from './summary.js';
import { openFds, rssBytes } from './helpers.js';

const EPOCHS = Number(process.env.CHAOS_SOAK_EPOCHS ?? 20);

describe('soak', () => {
  let workspace: TestWorkspace;
  let server: TestServer;
  let events: EventStream;
  beforeAll(async () => {
    ({ workspace, server, events } = await serveWorkspace({ train: 16, val: 4, batchSize: 4, epochs: EPOCHS }));
  });
  afterAll(() => closeServedWorkspace({ workspace, server, events }));

  it(`${EPOCHS} lightweight epochs: RSS after epoch 2 grows < 5 %, file handles do not grow`, async () => {
    const run = await post(server.url, '/api/train/start', {
      model_name: 'conformer',
      dataset_name: 'ljspeech',
      epochs: EPOCHS,
      lightweight: true,
    });
    expect(run.status).toBe(202);
    const samples: Array<{ epoch: number; rss: number; fds: number }> = [];
    for (let epoch = 1; epoch < EPOCHS; epoch += 1) {
      // Right after the epoch's checkpoint is committed; the trainer is already into the next epoch.
      await events.waitFor(
        (m) => m.type === 'checkpoint' && m.payload.name === `conformer-ljspeech-epoch-${epoch}.pt`,
        60_000,
      );
      const pid = server.app.supervisor.trainerPid;
      expect(pid).not.toBeNull();
      samples.push({ epoch, rss: rssBytes(pid!), fds: openFds(pid!) });
    }
    await events.waitForState(['completed', 'failed', 'stopped']);
    expect(server.app.supervisor.status().state, JSON.stringify(server.app.supervisor.status().error ?? {})).toBe(
      'completed',
    );

    const base = samples.find((s) => s.epoch === 2)!;
    const last = samples[samples.length - 1]!;
    const growth = (last.rss - base.rss) / base.rss;
    const maxGrowth = Math.max(...samples.filter((s) => s.epoch >= 2).map((s) => (s.rss - base.rss) / base.rss));
    const figures = {
      epochs: EPOCHS,
      rss_after_epoch_2_mb: +(base.rss / 2 ** 20).toFixed(1),
      [`rss_at_epoch_${last.epoch}_mb`]: +(last.rss / 2 ** 20).toFixed(1),
      rss_growth_percent: +(growth * 100).toFixed(2),
      rss_max_growth_percent: +(maxGrowth * 100).toFixed(2),
      fds_after_epoch_2: base.fds,
      [`fds_at_epoch_${last.epoch}`]: last.fds,
      rss_mb_by_epoch: samples.map((x) => +(x.rss / 2 ** 20).toFixed(1)),
      fds_max: Math.max(...samples.map((s) => s.fds)),
    };
    recordFigures('soak', figures);
    console.log(`soak: ${JSON.stringify(figures)}`);
    expect(growth).toBeLessThan(0.05);
    expect(last.fds).toBeLessThanOrEqual(base.fds);
  });
});
