/**
 * The guide's resume test, against a running server (`npm start`):
 *
 *   npm run test:resume -- --url http://127.0.0.1:8000 [--model conformer] [--dataset mini-ljspeech]
 *                          [--token TOKEN] [--timeout 600]
 *   npm run test:resume -- --spawn [--config PATH]   # starts `asr-trainer serve --port 0` itself (CI),
 *                                                      # stops it with SIGTERM at the end
 *
 * Lists checkpoints, starts (or auto-resumes) a lightweight run, watches progress over /ws, stops it,
 * resumes the latest checkpoint and a named one, and checks the guide's three error cases. One
 * PASS/FAIL line per step; exit code 1 when any step fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8000' },
    model: { type: 'string', default: 'conformer' },
    dataset: { type: 'string', default: 'mini-ljspeech' },
    token: { type: 'string', default: process.env.ASR_API_TOKEN ?? '' },
    timeout: { type: 'string', default: '600' },
    spawn: { type: 'boolean', default: false },
    config: { type: 'string' },
  },
});
let base = args.url!.replace(/\/$/, '');
const model = args.model!;
const dataset = args.dataset!;
const timeoutMs = Number(args.timeout) * 1000;
const authHeaders: Record<string, string> = args.token ? { authorization: `Bearer ${args.token}` } : {};

/** A parsed JSON body or event payload; the script checks the fields it reads. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
interface Message {
  type: string;
  payload: Json;
}

let failures = 0;
function report(ok: boolean, step: string, detail: string): void {
  if (!ok) failures += 1;
  console.log(`${ok ? 'PASS' : 'FAIL'}  ${step}${detail ? ` — ${detail}` : ''}`);
}

async function step(name: string, body: () => Promise<string>): Promise<void> {
  try {
    report(true, name, await body());
  } catch (err) {
    report(false, name, (err as Error).message);
  }
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const response = await fetch(base + path, {
    method,
    headers: { ...authHeaders, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch {
    parsed = { raw: text };
  }
  return { status: response.status, body: parsed };
}

/** Every /ws message since connecting, and a way to wait for the next one that matches. */
class Events {
  readonly messages: Message[] = [];
  private waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as Message;
      this.messages.push(message);
      this.waiters = this.waiters.filter((w) => (w.match(message) ? (w.resolve(message), false) : true));
    });
  }
  static open(): Promise<Events> {
    const url = `${base.replace(/^http/, 'ws')}/ws`;
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers: authHeaders });
      socket.once('open', () => resolve(new Events(socket)));
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`/ws answered HTTP ${res.statusCode}`)));
    });
  }
  mark(): number {
    return this.messages.length;
  }
  /** The first message from index `from` on that matches; a failed run ends the wait early. */
  next(match: (m: Message) => boolean, from: number, what: string): Promise<Message> {
    const failed = (m: Message) => m.type === 'status' && m.payload.state === 'failed' && !match(m);
    const settle = (m: Message): Message => {
      if (failed(m))
        throw new Error(`the run failed while waiting for ${what}: ${m.payload.error?.message ?? 'no cause given'}`);
      return m;
    };
    const seen = this.messages.slice(from).find((m) => match(m) || failed(m));
    if (seen) return Promise.resolve().then(() => settle(seen));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.waiters.push({
        match: (m) => match(m) || failed(m),
        resolve: (m) => {
          clearTimeout(timer);
          try {
            resolve(settle(m));
          } catch (err) {
            reject(err);
          }
        },
      });
    });
  }
  close(): void {
    this.socket.close();
  }
}

const isState = (states: string[]) => (m: Message) => m.type === 'status' && states.includes(m.payload.state);

async function listPair(): Promise<Json[]> {
  const { status, body } = await call('GET', `/api/checkpoints?model_name=${model}&dataset_name=${dataset}`);
  check(status === 200, `GET /api/checkpoints answered ${status}: ${body.message ?? ''}`);
  return body.checkpoints as Json[];
}

/** Stops the run and waits for it to end; returns the checkpoint the stop saved (if one was). */
async function stopRun(events: Events): Promise<string | null> {
  const from = events.mark();
  const stop = await call('POST', '/api/train/stop');
  check(
    stop.status === 202 && stop.body.status === 'stopping',
    `stop answered ${stop.status} ${JSON.stringify(stop.body)}`,
  );
  const end = await events.next(isState(['stopped', 'completed', 'failed']), from, 'the run to end');
  check(end.payload.state !== 'failed', `run failed: ${end.payload.error?.message}`);
  const saved = events.messages.slice(from).filter((m) => m.type === 'checkpoint');
  return saved.length > 0 ? (saved[saved.length - 1].payload.name as string) : null;
}

async function waitIdle(events: Events): Promise<void> {
  const status = await call('GET', '/api/train/status');
  if (['starting', 'running', 'stopping'].includes(status.body.state)) {
    if (status.body.state !== 'stopping') await call('POST', '/api/train/stop');
    await events.next(isState(['stopped', 'completed', 'failed']), 0, 'the earlier run to end');
  }
}

async function main(): Promise<void> {
  console.log(`asr-trainer resume test against ${base} (model ${model}, dataset ${dataset})`);
  let events: Events | null = null;
  await step('health', async () => {
    const { status, body } = await call('GET', '/api/health');
    check(status === 200 && body.status === 'ok', `GET /api/health answered ${status}`);
    return 'server is up';
  });
  await step('websocket connects and greets with the status', async () => {
    events = await Events.open();
    const first = await events.next(() => true, 0, 'the greeting');
    check(first.type === 'status', `first message was ${first.type}`);
    return `state ${first.payload.state}`;
  });
  if (!events) {
    console.log('cannot continue without /ws');
    process.exitCode = 1;
    return;
  }
  const ws: Events = events;
  await waitIdle(ws);

  let before: Json[] = [];
  await step('list checkpoints (all, then filtered)', async () => {
    const all = await call('GET', '/api/checkpoints');
    check(all.status === 200 && Array.isArray(all.body.checkpoints), `GET /api/checkpoints answered ${all.status}`);
    before = await listPair();
    check(
      before.every((c) => c.model_name === model && c.dataset_name === dataset),
      'the filter let other pairs through',
    );
    return `${all.body.checkpoints.length} in all, ${before.length} of ${model}/${dataset}`;
  });

  await step('error: unknown checkpoint → 404 "Specified checkpoint \'invalid-checkpoint\' not found"', async () => {
    const r = await call('POST', '/api/train/start', {
      model_name: model,
      dataset_name: dataset,
      resume_from_checkpoint: true,
      specific_checkpoint: 'invalid-checkpoint',
    });
    check(
      r.status === 404 && r.body.message === "Specified checkpoint 'invalid-checkpoint' not found",
      `${r.status} ${r.body.message}`,
    );
    return '404';
  });

  await step('error: resume without checkpoints → 404 "No checkpoint found for model …"', async () => {
    // A pair without checkpoints: this one if it is fresh, else another configured pair never trained.
    const pair = before.length === 0 ? { model_name: model, dataset_name: dataset } : await emptyPair();
    const r = await call('POST', '/api/train/resume', { ...pair, epochs: 1 });
    const expected = `No checkpoint found for model '${pair.model_name}' and dataset '${pair.dataset_name}'`;
    check(r.status === 404 && r.body.message === expected, `${r.status} ${r.body.message}`);
    return `404 for ${pair.model_name}/${pair.dataset_name}`;
  });

  const epochsBefore = Math.max(0, ...before.filter((c) => c.valid).map((c) => c.epoch as number));
  const epochs = epochsBefore + 3;
  const request = { model_name: model, dataset_name: dataset, epochs, lightweight: true };

  let firstStop: string | null = null;
  await step('start (auto-resume) and a second start → 409 "Training is already in progress"', async () => {
    const from = ws.mark();
    const [a, b] = await Promise.all([
      call('POST', '/api/train/start', request),
      call('POST', '/api/train/start', request),
    ]);
    const started = [a, b].filter((r) => r.status === 202);
    const refused = [a, b].filter((r) => r.status === 409);
    check(started.length === 1 && refused.length === 1, `answers ${a.status} and ${b.status}`);
    check(refused[0].body.message === 'Training is already in progress', `409 said "${refused[0].body.message}"`);
    const progress = await ws.next(
      (m) => m.type === 'progress' && m.payload.run_id === started[0].body.run_id,
      from,
      'progress',
    );
    return `run ${started[0].body.run_id} from ${started[0].body.resumed_from ?? 'scratch'}, epoch ${progress.payload.epoch} step ${progress.payload.step}`;
  });

  await step('progress arrives over /ws, then stop saves a checkpoint', async () => {
    const from = ws.mark();
    await ws.next((m) => m.type === 'progress', from, 'more progress');
    await ws.next((m) => m.type === 'log', 0, 'a log line');
    firstStop = await stopRun(ws);
    check(firstStop !== null, 'no checkpoint event after stop');
    const listed = await listPair();
    check(
      listed.some((c) => c.name === firstStop && c.valid),
      `${firstStop} is not listed as valid`,
    );
    return `saved ${firstStop}`;
  });

  let namedEpoch: Json | null = null;
  await step('resume the latest checkpoint: progress continues at the next global step', async () => {
    const latest = (await listPair()).find((c) => c.is_latest);
    check(latest, 'no checkpoint is marked latest');
    const from = ws.mark();
    const r = await call('POST', '/api/train/resume', request);
    check(r.status === 202 && r.body.status === 'started', `${r.status} ${JSON.stringify(r.body)}`);
    check(r.body.resumed_from === latest.name, `resumed_from ${r.body.resumed_from}, latest is ${latest.name}`);
    const progress = await ws.next(
      (m) => m.type === 'progress' && m.payload.run_id === r.body.run_id,
      from,
      'progress',
    );
    check(
      progress.payload.global_step === latest.global_step + 1,
      `first global step ${progress.payload.global_step} after ${latest.global_step}`,
    );
    // Let it reach an epoch end, so there is an epoch checkpoint to resume by name.
    const saved = await ws.next(
      (m) => m.type === 'checkpoint' && !String(m.payload.name).includes('-step-'),
      from,
      'an epoch checkpoint',
    );
    namedEpoch = (await listPair()).find((c) => c.name === saved.payload.name) ?? null;
    await stopRun(ws);
    return `resumed ${latest.name} at global step ${progress.payload.global_step}`;
  });

  await step('resume a named checkpoint (specific_checkpoint)', async () => {
    check(namedEpoch, 'no epoch checkpoint to name');
    const from = ws.mark();
    const r = await call('POST', '/api/train/resume', { ...request, specific_checkpoint: namedEpoch.name });
    check(r.status === 202 && r.body.resumed_from === namedEpoch.name, `${r.status} ${JSON.stringify(r.body)}`);
    check(
      r.body.start_epoch === namedEpoch.epoch + 1,
      `start_epoch ${r.body.start_epoch} after epoch ${namedEpoch.epoch}`,
    );
    const progress = await ws.next(
      (m) => m.type === 'progress' && m.payload.run_id === r.body.run_id,
      from,
      'progress',
    );
    check(progress.payload.epoch === namedEpoch.epoch + 1, `progress in epoch ${progress.payload.epoch}`);
    await stopRun(ws);
    return `resumed ${namedEpoch.name} at epoch ${r.body.start_epoch}`;
  });

  await step('error: stop with nothing running → 409', async () => {
    const r = await call('POST', '/api/train/stop');
    check(r.status === 409, `${r.status}`);
    return '409';
  });

  ws.close();
  console.log(failures === 0 ? 'all steps passed' : `${failures} step(s) failed`);
  process.exitCode = failures === 0 ? 0 : 1;
}

/** A configured model/dataset pair with no checkpoints yet, for the "No checkpoint found" check. */
async function emptyPair(): Promise<{ model_name: string; dataset_name: string }> {
  const models = (await call('GET', '/api/models')).body.models as Json[];
  const datasets = (await call('GET', '/api/datasets')).body.datasets as Json[];
  const all = (await call('GET', '/api/checkpoints')).body.checkpoints as Json[];
  for (const d of datasets) {
    for (const m of models) {
      if (!all.some((c) => c.model_name === m.name && c.dataset_name === d.name))
        return { model_name: m.name, dataset_name: d.name };
    }
  }
  throw new Error('every configured model/dataset pair has checkpoints; run against a fresh checkpoint folder');
}

/** `asr-trainer serve --port 0` from this checkout, as `npm start` runs it; resolves with its URL. */
function spawnServer(): Promise<{ server: ChildProcess; url: string }> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const cli = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  const server = spawn(
    process.execPath,
    ['--import', tsx, cli, 'serve', '--port', '0', ...(args.config ? ['--config', args.config] : [])],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let seen = '';
    server.stdout!.on('data', (chunk) => {
      seen += String(chunk);
      const match = /asr-trainer API on (http:\/\/[^ "]+)/.exec(seen);
      if (match) resolve({ server, url: match[1] });
    });
    server.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening:\n${seen}`)));
  });
}

async function entry(): Promise<void> {
  if (!args.spawn) return main();
  const { server, url } = await spawnServer();
  base = url;
  try {
    await main();
  } finally {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
}

entry().catch((err: unknown) => {
  console.error(`FAIL  ${(err as Error).message}`);
  process.exit(1);
});
