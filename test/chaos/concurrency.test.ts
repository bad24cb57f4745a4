/**
 * Concurrency: 50 simultaneous starts give exactly one 202 and 49 times the guide's 409; start, stop and
 * resume interleaved from several clients never leave two trainers alive or a state that does not settle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, waitUntil } from '../helpers/wait.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { EventStream, get, post, startServer, type TestServer, type Json } from '../server/client.js';
import { recordFigures } from './summary.js';
import { chaosSeed, seededRandom, trainerPids } from './helpers.js';

const REQUEST = { model_name: 'conformer', dataset_name: 'ljspeech', epochs: 10_000 };
const ANSWERS: Record<string, number[]> = {
  start: [202, 409],
  resume: [202, 404, 409],
  stop: [202, 409],
};

describe('concurrent clients', () => {
  let workspace: TestWorkspace;
  let server: TestServer;
  let events: EventStream;
  const seed = chaosSeed();
  let maxTrainers = 0;
  let sampler: NodeJS.Timeout | null = null;

  const trainers = (): number[] => trainerPids(process.pid);

  beforeAll(async () => {
    workspace = makeWorkspace({ train: 8, val: 2, batchSize: 2, saveEverySteps: 2 });
    server = await startServer(workspace);
    events = await EventStream.open(server.wsUrl);
    // Trainer processes are this test process's only children; sample how many live at once.
    sampler = setInterval(() => (maxTrainers = Math.max(maxTrainers, trainers().length)), 10);
  });
  afterAll(async () => {
    if (sampler) clearInterval(sampler);
    events?.close();
    await server?.close();
    workspace?.cleanup();
  });

  it('50 parallel starts: exactly one 202, the rest 409 Training is already in progress', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => post(server.url, '/api/train/start', REQUEST)));
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 409);
    expect(accepted).toHaveLength(1);
    expect(refused).toHaveLength(49);
    for (const r of refused)
      expect(r.body).toMatchObject({
        statusCode: 409,
        code: 'E_TRAINING_IN_PROGRESS',
        message: 'Training is already in progress',
      });
    await events.waitFor((m) => m.type === 'progress' && m.payload.run_id === accepted[0]!.body.run_id, 60_000);
    expect((await post(server.url, '/api/train/stop', {})).status).toBe(202);
    const end = await events.waitForState(['stopped', 'failed', 'completed']);
    expect(end.payload.state, JSON.stringify(end.payload.error ?? {})).toBe('stopped');
    await server.app.supervisor.waitForExit();
    expect(maxTrainers).toBe(1);
    recordFigures('concurrency', { parallel_starts: 50, accepted: accepted.length, refused_409: refused.length });
  });

  it('interleaved start/stop/resume from 5 clients: never two trainers, and the state always settles', async () => {
    const random = seededRandom(seed);
    const unexpected: string[] = [];
    let operations = 0;
    const client = async (id: number): Promise<void> => {
      for (let i = 0; i < 16; i += 1) {
        const op = (['start', 'resume', 'stop', 'stop', 'start'] as const)[Math.floor(random() * 5)]!;
        const answer =
          op === 'stop'
            ? await post(server.url, '/api/train/stop', {})
            : await post(server.url, `/api/train/${op}`, REQUEST);
        operations += 1;
        if (!ANSWERS[op]!.includes(answer.status))
          unexpected.push(`client ${id} ${op}: ${answer.status} ${JSON.stringify(answer.body)}`);
        if (answer.status === 409 && op !== 'stop') expect(answer.body.code).toMatch(/E_TRAINING_IN_PROGRESS|E_LOCKED/);
        await sleep(Math.floor(random() * 400));
      }
    };
    await Promise.all([0, 1, 2, 3, 4].map(client));
    expect(unexpected, unexpected.join('\n')).toEqual([]);

    // Whatever the last operation was, the run settles: a stop ends it, and no trainer outlives its state.
    if (server.app.supervisor.isBusy()) {
      const stop = await post(server.url, '/api/train/stop', {});
      expect([202, 409]).toContain(stop.status);
    }
    await waitUntil('the supervisor to settle', () => (server.app.supervisor.isBusy() ? undefined : true), 90_000);
    await server.app.supervisor.waitForExit();
    await waitUntil('trainer processes to be reaped', () => (trainers().length === 0 ? true : undefined), 10_000);
    expect(['stopped', 'completed', 'failed']).toContain((await get(server.url, '/api/train/status')).body.state);
    expect(maxTrainers).toBe(1);

    // And the next start is an ordinary one.
    const from = events.messages.length;
    const next = await post(server.url, '/api/train/start', REQUEST);
    expect(next.status).toBe(202);
    await events.waitFor((m) => m.type === 'progress' && m.payload.run_id === next.body.run_id, 60_000, from);
    expect((await post(server.url, '/api/train/stop', {})).status).toBe(202);
    expect((await events.waitForState(['stopped', 'failed'], from)).payload.state).toBe('stopped');
    recordFigures('concurrency', {
      seed,
      interleaved_clients: 5,
      interleaved_operations: operations,
      max_trainers_alive: maxTrainers,
    });
  });

  it('two servers on one checkpoint folder: starts race on both, yet only one run trains at a time', async () => {
    const second = await startServer(workspace);
    const secondEvents = await EventStream.open(second.wsUrl);
    const received: Array<{ run: string; at: number }> = [];
    for (const stream of [events, secondEvents]) {
      stream.socket.on('message', (data) => {
        const m = JSON.parse(String(data)) as { type: string; payload: Json };
        if (m.type === 'progress') received.push({ run: m.payload.run_id as string, at: Date.now() });
      });
    }
    const outcomes: Record<string, number> = {};
    try {
      for (let round = 0; round < 4; round += 1) {
        const answers = await Promise.all(
          [server, second, server, second].map((s) => post(s.url, '/api/train/start', REQUEST)),
        );
        for (const a of answers) {
          const key = a.status === 202 ? '202' : `${a.status} ${a.body.code}`;
          outcomes[key] = (outcomes[key] ?? 0) + 1;
          expect([202, 409]).toContain(a.status);
        }
        // Until a run of this round trains (however slow the machine), then a while for a second one to show.
        const acceptedRuns = answers.filter((a) => a.status === 202).map((a) => a.body.run_id as string);
        await waitUntil('a run of this round to report progress', () =>
          received.some((r) => acceptedRuns.includes(r.run)),
        );
        await sleep(2500);
        for (const s of [server, second]) {
          if (s.app.supervisor.isBusy()) s.app.supervisor.stop();
        }
        await Promise.all([server.app.supervisor.waitForExit(), second.app.supervisor.waitForExit()]);
        await waitUntil('trainer processes to be reaped', () => (trainers().length === 0 ? true : undefined), 10_000);
      }
    } finally {
      secondEvents.close();
      await second.close();
    }
    // Progress of two runs never interleaves: each run's steps form one block in time.
    const spans = new Map<string, { first: number; last: number }>();
    for (const r of received) {
      const span = spans.get(r.run) ?? { first: r.at, last: r.at };
      span.last = r.at;
      spans.set(r.run, span);
    }
    const ordered = [...spans.values()].sort((a, b) => a.first - b.first);
    for (let k = 1; k < ordered.length; k += 1) expect(ordered[k]!.first).toBeGreaterThanOrEqual(ordered[k - 1]!.last);
    expect(ordered.length).toBeGreaterThan(0);
    recordFigures('concurrency', {
      two_servers_rounds: 4,
      two_servers_outcomes: outcomes,
      two_servers_runs_trained: ordered.length,
    });
  });
});
