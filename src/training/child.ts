/**
 * The trainer process the supervisor forks: one TrainingRun, driven over IPC. It outlives nothing: when
 * the run ends it reports and exits. SIGINT/SIGTERM (a Ctrl-C reaches the whole process group) and a
 * lost parent are treated as stop, so the run still saves its step checkpoint.
 */
import { isAsrTrainerError } from '../errors.js';
import type { ChildToParent, ParentToChild } from './ipc.js';
import { TrainingRun } from './run.js';

let run: TrainingRun | null = null;
let stopRequested = false;
let started = false;

function send(message: ChildToParent): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

function requestStop(): void {
  stopRequested = true;
  run?.stop();
}

async function start(message: Extract<ParentToChild, { cmd: 'start' }>): Promise<void> {
  try {
    run = await TrainingRun.prepare(message.config, message.request, {
      runId: message.runId,
      onEvent: (event) => void send({ kind: 'event', event }),
    });
    await send({ kind: 'prepared', plan: run.plan });
    if (stopRequested) run.stop();
    const outcome = await run.run();
    await send({ kind: 'done', state: outcome.state });
    process.exit(0);
  } catch (err) {
    const code = isAsrTrainerError(err) ? err.code : 'E_INTERNAL';
    const text = err instanceof Error ? err.message : String(err);
    await send({ kind: 'event', event: { type: 'log', payload: { level: 'error', message: text, timestamp: new Date().toISOString() } } });
    await send({ kind: 'error', code, message: text });
    process.exit(1);
  }
}

process.on('message', (message: ParentToChild) => {
  if (message.cmd === 'start' && !started) {
    started = true;
    void start(message);
  } else if (message.cmd === 'stop') {
    requestStop();
  }
});
process.on('SIGINT', requestStop);
process.on('SIGTERM', requestStop);
process.on('disconnect', requestStop);
