/**
 * The averaging process (forked by ./process.ts for one average, then gone): the addon's averaging and
 * the evaluation of its output run here, so a LibTorch abort, an OOM kill or a segfault ends this process
 * and never the API or the CLI that asked.
 */
import { errorMessage, parentChannel } from '../child-process/index.js';
import { loadNative } from '../native/index.js';
import { scoreOnValidation } from './evaluate.js';
import type { AverageJob, AveragerToParent, ParentToAverager } from './ipc.js';

const parent = parentChannel<ParentToAverager, AveragerToParent>();

async function average(job: AverageJob): Promise<AveragerToParent> {
  const native = loadNative();
  const summary = await native.averageCheckpoints(job.inputs, job.output);
  const score = await scoreOnValidation(native, job.config, job.dataset_name, job.output, job.batch_size);
  return { kind: 'result', summary, score };
}

parent.onMessage((message) => {
  void average(message.job)
    .catch(errorMessage)
    .then(parent.send)
    .then(() => process.disconnect());
});
process.on('disconnect', () => process.exit(0));
