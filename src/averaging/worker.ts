/**
 * The averaging process (forked by ./process.ts for one average, then gone): the addon's averaging and
 * the evaluation of its output run here, so a LibTorch abort, an OOM kill or a segfault ends this process
 * and never the API or the CLI that asked.
 */
import { isAsrTrainerError } from '../errors.js';
import { loadNative } from '../native.js';
import { scoreOnValidation } from './evaluate.js';
import type { AverageJob, AveragerToParent, ParentToAverager } from './ipc.js';

function send(message: AveragerToParent): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function average(job: AverageJob): Promise<AveragerToParent> {
  const native = loadNative();
  const summary = await native.averageCheckpoints(job.inputs, job.output);
  const score = await scoreOnValidation(native, job.config, job.dataset_name, job.output, job.batch_size);
  return { kind: 'result', summary, score };
}

process.once('message', (message: ParentToAverager) => {
  void average(message.job)
    .catch((err: unknown): AveragerToParent =>
      isAsrTrainerError(err)
        ? { kind: 'error', code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) }
        : { kind: 'error', code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) },
    )
    .then(send)
    .then(() => process.disconnect());
});
process.on('disconnect', () => process.exit(0));
