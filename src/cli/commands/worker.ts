/**
 * `asr-trainer worker`: one worker of a data-parallel run, placed by torchrun's environment (RANK,
 * LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), whoever set it: a second machine's
 * shell, torchrun --no-python, srun, a Kubernetes Job. Ranks other than 0 need only their own config
 * (paths, datasets): rank 0 shares the plan and the training settings. Rank 0 is normally the server's
 * (or `asr-trainer train`'s) worker; started here it plans the run itself from --model and --dataset.
 */

import { loadConfig } from '../../config/index.js';
import { openWorkerRun, planRun, readWorkerPlace, WORLD_ENV_NAMES, type TrainingRun } from '../../training/index.js';
import { EXIT_INTERRUPTED, EXIT_OK, UsageError } from '../exit.js';
import { ProgressReporter } from '../progress.js';
import { trainRequestFrom, type TrainOptions } from './train.js';

export type WorkerOptions = Omit<TrainOptions, 'model' | 'dataset' | 'nprocPerNode'> & {
  model?: string;
  dataset?: string;
};

export async function workerCommand(options: WorkerOptions): Promise<number> {
  const place = readWorkerPlace();
  if (place === null) {
    throw new UsageError(
      `asr-trainer worker takes its place in the run from the environment: set ${WORLD_ENV_NAMES.join(', ')} (torchrun and srun set them; README "Distributed training")`,
    );
  }
  const config = loadConfig({ path: options.config });
  let plan = null;
  if (place.rank === 0) {
    if (options.model === undefined || options.dataset === undefined) {
      throw new UsageError('rank 0 plans the run: give --model and --dataset (as for `asr-trainer train`)');
    }
    plan = await planRun(config, trainRequestFrom({ ...options, model: options.model, dataset: options.dataset }));
    for (const warning of plan.warnings) process.stdout.write(`warning: ${warning}\n`);
  }
  const reporter = new ProgressReporter(process.stdout, {
    tty: process.stdout.isTTY === true,
    verbose: options.verbose,
  });
  let run: TrainingRun | null = null;
  let interrupted = false;
  // First signal: the ranks agree to stop after a step and rank 0 saves. Second: leave at once.
  const onSignal = (): void => {
    if (interrupted || !run) process.exit(EXIT_INTERRUPTED);
    interrupted = true;
    reporter.line('stopping: the run saves a checkpoint at the step all ranks agree on (again to abort)');
    run.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const opened = await openWorkerRun(config, place, plan, { onEvent: (event) => reporter.handle(event) });
    run = opened.run;
    reporter.setEpochs(run.plan.epochs);
    reporter.line(
      `rank ${place.rank} of ${place.world_size}: run ${run.plan.run_id}, epochs ${run.plan.start_epoch}..${run.plan.epochs}`,
    );
    const outcome = await run.run();
    reporter.line(
      `rank ${place.rank}: ${outcome.state} at epoch ${outcome.epoch} step ${outcome.step} (global ${outcome.global_step})`,
    );
    return interrupted || outcome.state === 'stopped' ? EXIT_INTERRUPTED : EXIT_OK;
  } finally {
    reporter.endBar();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await run?.close();
  }
}
