/**
 * The parent side of one average: forks ./worker.ts, hands it the job, and turns its answer (or its
 * death) into a result or an AsrTrainerError. One process per average: averaging is rare and short, and
 * a fresh process holds no model between requests.
 */
import { fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { AsrTrainerError, type AsrErrorCode } from '../errors.js';
import { addonProcessEnv, forkEntry } from '../fork-entry.js';
import type { AverageJob, AveragerToParent, ParentToAverager } from './ipc.js';

/** Lines of the process's stderr kept for the error of a crash (a LibTorch abort prints its reason there). */
const STDERR_LINES = 10;

export type AverageOutcome = Extract<AveragerToParent, { kind: 'result' }>;

export function averageInProcess(
  job: AverageJob,
  onLog?: (message: string) => void,
  env: NodeJS.ProcessEnv = {},
): Promise<AverageOutcome> {
  const { entry, execArgv } = forkEntry(import.meta.url, 'worker');
  const child = fork(entry, [], {
    execArgv,
    env: addonProcessEnv({ ...process.env, ...env }),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  const stderrTail: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      if (!line.trim()) return;
      if (stream === child.stderr) {
        stderrTail.push(line);
        if (stderrTail.length > STDERR_LINES) stderrTail.shift();
      }
      onLog?.(`[averaging] ${line}`);
    });
  }
  return new Promise<AverageOutcome>((resolve, reject) => {
    let answer: AveragerToParent | null = null;
    child.on('message', (message: AveragerToParent) => (answer = message));
    child.on('error', (err) =>
      reject(new AsrTrainerError('E_INTERNAL', `Cannot start the averaging process: ${err.message}`)),
    );
    // 'close' (not 'exit'): it waits for stderr to end, so an abort's last lines are in the error.
    child.on('close', (code, signal) => {
      if (answer?.kind === 'result') return resolve(answer);
      if (answer?.kind === 'error') {
        return reject(new AsrTrainerError(answer.code as AsrErrorCode, answer.message, answer.details));
      }
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      reject(
        new AsrTrainerError(
          'E_INTERNAL',
          `The averaging process ${how} before it answered; nothing was committed, so averaging again is safe`,
          { signal, exit_code: code, last_logs: stderrTail },
        ),
      );
    });
    const message: ParentToAverager = { cmd: 'average', job };
    child.send(message);
  });
}
