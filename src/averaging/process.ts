/**
 * The parent side of one average: forks ./worker.ts, hands it the job, and turns its answer (or its
 * death) into a result or an AsrTrainerError. One process per average: averaging is rare and short, and
 * a fresh process holds no model between requests.
 */
import { AddonChild, describeExit, reportedError } from '../child-process/index.js';
import { AsrTrainerError } from '../errors.js';
import type { Log } from '../log.js';
import type { AverageJob, AveragerToParent, ParentToAverager } from './ipc.js';

export type AverageOutcome = Extract<AveragerToParent, { kind: 'result' }>;

export function averageInProcess(job: AverageJob, log?: Log, env: NodeJS.ProcessEnv = {}): Promise<AverageOutcome> {
  return new Promise<AverageOutcome>((resolve, reject) => {
    let answer: AveragerToParent | null = null;
    const child = AddonChild.fork<ParentToAverager, AveragerToParent>(
      { callerUrl: import.meta.url, name: 'worker', env: { ...process.env, ...env } },
      {
        onLine: (_stream, line) => log?.('info', `[averaging] ${line}`),
        onMessage: (message) => (answer = message),
        onError: (err) =>
          reject(new AsrTrainerError('E_INTERNAL', `Cannot start the averaging process: ${err.message}`)),
        onClose: (exit) => {
          if (answer?.kind === 'result') return resolve(answer);
          if (answer?.kind === 'error') return reject(reportedError(answer.error));
          const how = describeExit(exit);
          const why = `The averaging process ${how} before it answered; nothing was committed, so averaging again is safe`;
          reject(child.deathError('E_INTERNAL', why));
        },
      },
    );
    child.send({ cmd: 'average', job });
  });
}
