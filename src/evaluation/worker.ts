/**
 * The evaluation process (forked by ./process.ts for one evaluation, then gone): the features and the
 * model run here, so a LibTorch abort or an OOM kill ends this process and never the API or the CLI.
 */
import { errorMessage, parentChannel } from '../child-process/index.js';
import { loadDataset } from '../data/dataset.js';
import { loadNative } from '../native/index.js';
import type { EvaluateJob, EvaluatorToParent, ParentToEvaluator } from './ipc.js';
import { scoreSplits } from './score.js';

const parent = parentChannel<ParentToEvaluator, EvaluatorToParent>();

async function evaluate(job: EvaluateJob): Promise<EvaluatorToParent> {
  const dataset = loadDataset(job.config, job.dataset_name);
  const splits = await scoreSplits(loadNative(), job.config, dataset, job.split, job.checkpoint_path, job.beam);
  return { kind: 'result', splits };
}

parent.onMessage((message) => {
  void evaluate(message.job)
    .catch(errorMessage)
    .then(parent.send)
    .then(() => process.disconnect());
});
process.on('disconnect', () => process.exit(0));
