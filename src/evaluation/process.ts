/**
 * The parent side of one evaluation: forks ./worker.ts, hands it the job, and turns its answer (or its
 * death) into the split figures or an AsrTrainerError.
 */
import { AddonChild, describeExit, reportedError } from '../child-process/index.js';
import type { SplitEvaluation } from '../contract/datasets.js';
import { AsrTrainerError } from '../errors.js';
import type { Log } from '../log.js';
import type { EvaluateJob, EvaluatorToParent, ParentToEvaluator } from './ipc.js';

export function evaluateInProcess(job: EvaluateJob, log?: Log): Promise<SplitEvaluation[]> {
  return new Promise<SplitEvaluation[]>((resolve, reject) => {
    let answer: EvaluatorToParent | null = null;
    const child = AddonChild.fork<ParentToEvaluator, EvaluatorToParent>(
      { callerUrl: import.meta.url, name: 'worker', env: process.env },
      {
        onLine: (_stream, line) => log?.('info', `[evaluation] ${line}`),
        onMessage: (message) => (answer = message),
        onError: (err) =>
          reject(new AsrTrainerError('E_INTERNAL', `Cannot start the evaluation process: ${err.message}`)),
        onClose: (exit) => {
          if (answer?.kind === 'result') return resolve(answer.splits);
          if (answer?.kind === 'error') return reject(reportedError(answer.error));
          reject(child.deathError('E_INTERNAL', `The evaluation process ${describeExit(exit)} before it answered`));
        },
      },
    );
    child.send({ cmd: 'evaluate', job });
  });
}
