/**
 * (5) The service, end to end on a real server (port 0) with the real trainer process: POST
 * /api/train/resume → the first `progress` event on /ws; GET /api/train/status latency while a run
 * trains; and the spread of each `progress` event's arrival over 50 WebSocket clients. The workspace is a
 * temp folder whose dataset is the bundled mini corpus (a limited training set, the xs model).
 *
 * Resume is measured twice: IDLE_BEFORE_RESUME_MS after the previous run ended (a user's stop and resume
 * are seconds apart, and the server uses them to have its next trainer started and warm,
 * server.prestart_trainer: on the 2-core VM ~1.6 s to start and load LibTorch, then ~1.4 s to page in the
 * xs run's 0.45 GB heap), and the moment it ended (that trainer still starting).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { WebSocket } from 'ws';

import { serve } from '../../src/server/index.js';
import { miniCorpusConfig, REPO } from '../lib/corpus.js';
import type { Row } from '../lib/report.js';
import { percentile, summarize } from '../lib/stats.js';

const BODY = { model_name: 'conformer', dataset_name: 'mini-ljspeech' };
const IDLE_BEFORE_RESUME_MS = 5000;

async function post(url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function waitDone(base: string, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = (await (await fetch(`${base}/api/train/status`)).json()) as { state: string; error?: string };
    if (['completed', 'failed', 'stopped'].includes(s.state)) {
      if (s.state === 'failed') throw new Error(`training failed: ${String(s.error)}`);
      return s.state;
    }
    if (Date.now() > until) throw new Error(`training did not finish in ${timeoutMs} ms (state ${s.state})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function serviceSuite(opts: {
  reps: number;
  samples: number;
  clients: number;
  threads: number;
  log: (l: string) => void;
}): Promise<Row[]> {
  const root = mkdtempSync(join(REPO, 'bench', '.work', 'service-'));
  const config = miniCorpusConfig(
    root,
    ['epochs: 1', 'batch_size: 16', `threads: ${opts.threads}`, 'seed: 0'],
    ['server: { host: 127.0.0.1, port: 0, api_token: "" }'],
  );
  const server = await serve(config, { port: 0, handleSignals: false, logger: false });
  const base = server.url;
  const sockets: WebSocket[] = [];
  try {
    await post(`${base}/api/train/start`, { ...BODY, epochs: 1, limit_samples: opts.samples });
    await waitDone(base, 300_000);

    const arrivals = new Map<number, number[]>();
    let firstProgress: number | null = null;
    for (let i = 0; i < opts.clients; i++) {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`);
      ws.on('message', (raw: Buffer) => {
        const at = performance.now();
        const msg = JSON.parse(raw.toString()) as { type: string; payload: { global_step: number } };
        if (msg.type !== 'progress') return;
        firstProgress ??= at;
        const list = arrivals.get(msg.payload.global_step) ?? [];
        list.push(at);
        arrivals.set(msg.payload.global_step, list);
      });
      await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
      sockets.push(ws);
    }

    const resume: number[] = [];
    const resumeAtOnce: number[] = [];
    const status: number[] = [];
    for (let r = 0; r < 2 * opts.reps; r++) {
      const idle = r < opts.reps;
      if (idle) await new Promise((res) => setTimeout(res, IDLE_BEFORE_RESUME_MS));
      firstProgress = null;
      const started = performance.now();
      await post(`${base}/api/train/resume`, { ...BODY, epochs: 2 + r, limit_samples: opts.samples });
      for (;;) {
        const t = performance.now();
        const s = (await (await fetch(`${base}/api/train/status`)).json()) as { state: string };
        const ms = performance.now() - t;
        if (s.state === 'running') status.push(ms);
        if (['completed', 'failed', 'stopped'].includes(s.state)) break;
        await new Promise((res) => setTimeout(res, 10));
      }
      if (firstProgress === null) throw new Error('no progress event arrived during the resumed run');
      (idle ? resume : resumeAtOnce).push(firstProgress - started);
      opts.log(
        `  resume ${r + 1} (${idle ? `${IDLE_BEFORE_RESUME_MS} ms after the last run` : 'as the last run ended'}): first progress after ${(firstProgress - started).toFixed(0)} ms`,
      );
    }
    const spreads = [...arrivals.values()]
      .filter((l) => l.length === opts.clients)
      .map((l) => Math.max(...l) - Math.min(...l));
    const resumeS = summarize(resume);
    const resumeAtOnceS = summarize(resumeAtOnce);
    const p99 = percentile(status, 0.99);
    return [
      {
        suite: 'service',
        case: `xs, ${opts.samples} utterances, ${IDLE_BEFORE_RESUME_MS / 1000} s after the last run`,
        metric: 'POST /api/train/resume → first progress',
        unit: 'ms',
        project: resumeS,
        reference: null,
        better: 'lower',
        target: '< 1000 ms',
        met: resumeS.median < 1000,
        note: 'the server pre-starts the next trainer (server.prestart_trainer) and warms the heap the last run used',
      },
      {
        suite: 'service',
        case: `xs, ${opts.samples} utterances, as the last run ended`,
        metric: 'POST /api/train/resume → first progress',
        unit: 'ms',
        project: resumeAtOnceS,
        reference: null,
        better: 'lower',
        note: 'the pre-started trainer is still loading when the request comes',
      },
      {
        suite: 'service',
        case: `while training (${status.length} requests)`,
        metric: 'GET /api/train/status',
        unit: 'ms',
        project: summarize(status),
        reference: null,
        better: 'lower',
        target: 'p99 < 10 ms',
        met: p99 < 10,
        note: `p50 ${percentile(status, 0.5).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`,
      },
      {
        suite: 'service',
        case: `${opts.clients} /ws clients, ${spreads.length} progress events`,
        metric: 'fan-out spread (last − first arrival)',
        unit: 'ms',
        project: summarize(spreads),
        reference: null,
        better: 'lower',
        note: `p99 ${percentile(spreads, 0.99).toFixed(2)} ms; events every client got: ${spreads.length} of ${arrivals.size}`,
      },
    ];
  } finally {
    for (const ws of sockets) ws.close();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
}
