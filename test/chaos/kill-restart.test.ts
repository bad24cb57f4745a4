/**
 * Kill and restart at once: the server is SIGKILLed together with its trainer, a new server starts on
 * the same folder straight away and is asked to start. The killed trainer is reparented to PID 1, which
 * in a container may reap it late or never, so it can linger as a zombie; its folder lock must not
 * outlive it. Every start answers 202 at the first try, resuming.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, waitUntil } from '../helpers/wait.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { EventStream, post } from '../server/client.js';
import { recordFigures } from './summary.js';
import { chaosSeed, seededRandom, spawnServer, trainerPids, type ServerProcess } from './helpers.js';

const CYCLES = Number(process.env.CHAOS_RESTARTS ?? 30);
const REQUEST = { model_name: 'conformer', dataset_name: 'ljspeech', epochs: 10_000 };

describe('kill and restart at once', () => {
  let workspace: TestWorkspace;
  let server: ServerProcess | null = null;
  const seed = chaosSeed();
  const random = seededRandom(seed);

  beforeAll(() => {
    workspace = makeWorkspace({ train: 8, val: 2, batchSize: 2, retention: 3, saveEverySteps: 1 });
  });
  afterAll(async () => {
    server?.killGroup();
    await server?.exited;
    workspace?.cleanup();
  });

  it(`${CYCLES} cycles of SIGKILL (server with its trainer) and an immediate restart: every start is 202, resuming`, async () => {
    console.log(`kill-restart: seed ${seed} (CHAOS_SEED=${seed} repeats this run)`);
    const figures = { cycles: 0, resumed: 0, trainers_left_zombie: 0 };
    // A checkpoint to resume from: the first run trains until it commits one.
    server = await spawnServer(workspace.configPath);
    const events = await EventStream.open(server.wsUrl);
    const first = await post(server.url, '/api/train/start', REQUEST);
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    await events.waitFor((m) => m.type === 'checkpoint', 90_000);
    events.close();

    for (let i = 0; i < CYCLES; i += 1) {
      const srv = server;
      const trainer = await waitUntil('the trainer process', () => trainerPids(srv.pid)[0], 30_000);
      // Anywhere from the fork to mid-training: loading the checkpoint, training, saving.
      await sleep(Math.floor(random() * 1500));
      srv.killGroup();
      await srv.exited;
      if (isZombie(trainer)) figures.trainers_left_zombie += 1;
      server = await spawnServer(workspace.configPath);
      const started = await post(server.url, '/api/train/start', REQUEST);
      expect(started.status, `cycle ${i}: ${JSON.stringify(started.body)}`).toBe(202);
      expect(started.body.resumed_from, `cycle ${i}: resumed from nothing`).not.toBeNull();
      figures.cycles += 1;
      if (started.body.resumed_from !== null) figures.resumed += 1;
    }
    recordFigures('kill_restart', { seed, ...figures });
    console.log(`kill-restart: ${JSON.stringify(figures)}`);
  });
});

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}
