/**
 * The trainer process the supervisor forks: one TrainingRun, opened from the supervisor's plan and driven
 * over IPC. It reports events and how it ended; the status and the failure's log line are the
 * supervisor's. When the run ends it exits. SIGINT/SIGTERM (a Ctrl-C reaches the whole process group) and
 * a lost parent are treated as stop, so the run still saves its step checkpoint.
 *
 * With torchrun's variables in its environment (./world-env.ts) it is one worker of a data-parallel run
 * (./worker.ts): rank 0 reports events as a single trainer does; the other ranks report only how they
 * ended, and print their log lines (the supervisor keeps each worker's output for its failure report).
 */
import { isAsrTrainerError } from '../errors.js';
import type { ChildToParent, ParentToChild } from './ipc.js';
import { TrainingRun } from './run.js';
import { openWorkerRun } from './worker.js';
import { readWorkerPlace } from './world-env.js';
import type { TrainingEvent } from '../contract/index.js';

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

function report(event: TrainingEvent): void {
  if (event.type !== 'status') void send({ kind: 'event', event });
}

function print(event: TrainingEvent): void {
  if (event.type === 'log') process.stdout.write(`[${event.payload.level}] ${event.payload.message}\n`);
}

async function open(message: Extract<ParentToChild, { cmd: 'start' }>): Promise<TrainingRun> {
  const place = readWorkerPlace();
  if (place === null) return TrainingRun.open(message.config, message.plan, { onEvent: report });
  const opened = await openWorkerRun(message.config, place, message.plan, {
    onEvent: place.rank === 0 ? report : print,
  });
  return opened.run;
}

async function start(message: Extract<ParentToChild, { cmd: 'start' }>): Promise<void> {
  try {
    run = await open(message);
    await send({ kind: 'prepared' });
    if (stopRequested) run.stop();
    const outcome = await run.run();
    await send({ kind: 'done', state: outcome.state, ...(outcome.reason ? { reason: outcome.reason } : {}) });
    process.exit(0);
  } catch (err) {
    const code = isAsrTrainerError(err) ? err.code : 'E_INTERNAL';
    await send({ kind: 'error', code, message: err instanceof Error ? err.message : String(err) });
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
