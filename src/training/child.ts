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
import { INHERITED_LOCK_ENV } from '../checkpoints/lock.js';
import { errorMessage, parentChannel } from '../child-process/index.js';
import { loadNative } from '../native/index.js';
import { TRAINER_LOCK_FD, WARM_HEAP_ENV, type ChildToParent, type ParentToChild } from './ipc.js';
import { TrainingRun } from './run.js';
import { openWorkerRun } from './worker.js';
import { readWorkerPlace } from './world-env.js';
import type { TrainingEvent } from '../contract/index.js';

let run: TrainingRun | null = null;
let stopRequested = false;
let started = false;
const parent = parentChannel<ParentToChild, ChildToParent>();

function requestStop(): void {
  stopRequested = true;
  run?.stop();
}

function report(event: TrainingEvent): void {
  if (event.type !== 'status') void parent.send({ kind: 'event', event });
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

/** How long a pre-started trainer waits for the lock's descriptor, which is sent before `start`. */
const SENT_LOCK_TIMEOUT_MS = 10_000;

/**
 * A pre-started trainer (./spare-trainer.ts) receives the folder lock's descriptor on its descriptor
 * TRAINER_LOCK_FD and then adopts it as a trainer forked per run adopts the inherited one.
 */
function receiveSentLock(lockPath: string): void {
  const fd = loadNative().receiveDescriptor(TRAINER_LOCK_FD, SENT_LOCK_TIMEOUT_MS);
  process.env[INHERITED_LOCK_ENV] = `${fd}:${lockPath}`;
}

async function start(message: Extract<ParentToChild, { cmd: 'start' }>): Promise<void> {
  try {
    if (message.sentLockPath !== undefined) receiveSentLock(message.sentLockPath);
    run = await open(message);
    await parent.send({ kind: 'prepared' });
    if (stopRequested) run.stop();
    const outcome = await run.run();
    await parent.send({
      kind: 'done',
      state: outcome.state,
      ...(outcome.reason ? { reason: outcome.reason } : {}),
      heap_bytes: loadNative().heapBytes(),
    });
    process.exit(0);
  } catch (err) {
    await parent.send(errorMessage(err));
    process.exit(1);
  }
}

parent.onMessage((message) => {
  if (message.cmd === 'start' && !started) {
    started = true;
    void start(message);
  } else if (message.cmd === 'stop') {
    requestStop();
  }
});
process.on('SIGINT', requestStop);
process.on('SIGTERM', requestStop);
process.on('disconnect', () => {
  // A trainer waiting for its run (a pre-started one) has nothing to save when its server is gone.
  if (!started) process.exit(0);
  requestStop();
});
// LibTorch loads now, while the supervisor plans (or, in a pre-started trainer, while nothing waits), not
// on the run's path. A failure here is reported when the run sets up and loads the addon again.
const warmHeapBytes = Number(process.env[WARM_HEAP_ENV] ?? 0);
delete process.env[WARM_HEAP_ENV];
try {
  loadNative();
} catch {
  // reported by the run
}
// A pre-started trainer then pages in the heap the last run needed (./spare-trainer.ts), unless its run
// came while it was loading: setImmediate runs after the poll phase has delivered any message waiting.
if (warmHeapBytes > 0) {
  setImmediate(() => {
    if (started) return;
    try {
      // To the last run's heap in all: what this process's start allocated already counts (warming that much
      // on top made each spare's heap, and so the next one's warm-up, grow by it).
      const native = loadNative();
      native.warmHeap(Math.max(0, warmHeapBytes - native.heapBytes()));
    } catch {
      // only a lost head start
    }
  });
}
