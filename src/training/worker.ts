/**
 * One worker of a data-parallel run: joins the world first (c10d rendezvous at MASTER_ADDR:MASTER_PORT,
 * bounded by distributed.timeout_s), then agrees on the run: rank 0 has the plan (from the supervisor,
 * or planned itself when a launcher started it) and shares it with the training section of its config,
 * so a worker on another node needs only its own config for paths and datasets. Then every rank opens
 * the same TrainingRun attached to the world (./run.ts, ./setup.ts), with `training.threads: auto`
 * divided among the workers on its machine (./layout.ts).
 *
 * Used by the supervisor's forked workers (./child.ts) and by `asr-trainer worker` (src/cli).
 */
import type { AsrConfig, TrainingConfig } from '../config/schema.js';
import type { TrainingEvent } from '../contract/index.js';
import { AsrTrainerError } from '../errors.js';
import { loadNative } from '../native/index.js';
import type { World } from '../native/types.js';
import { logEvent } from './events.js';
import { threadsOfLocalWorker } from './layout.js';
import type { RunPlan } from './plan.js';
import { TrainingRun } from './run.js';
import type { WorkerPlace } from './world-env.js';

/** What rank 0 tells the others before anything is loaded. */
interface SharedRun {
  plan: RunPlan;
  training: TrainingConfig;
}

export interface WorkerRunOptions {
  onEvent?: (event: TrainingEvent) => void;
}

/** The world this worker joined and the run every rank agreed on, opened (not yet running). */
export interface WorkerRun {
  world: World;
  run: TrainingRun;
}

/**
 * Joins the world at `place` and opens the run rank 0 shares. `plan` is required on rank 0 and ignored
 * elsewhere. Throws E_DISTRIBUTED when a rank never arrives within distributed.timeout_s.
 */
export async function openWorkerRun(
  config: AsrConfig,
  place: WorkerPlace,
  plan: RunPlan | null,
  options: WorkerRunOptions = {},
): Promise<WorkerRun> {
  if (place.rank === 0 && plan === null) {
    throw new AsrTrainerError('E_INVALID_ARGUMENT', 'Rank 0 plans the run: it needs the model and the dataset');
  }
  const { backend, timeout_s } = config.distributed;
  options.onEvent?.(
    logEvent(
      'info',
      `Rank ${place.rank} of ${place.world_size}: joining the run at ${place.master_addr}:${place.master_port}${place.agent_store ? " (torchrun's store)" : ''} (waiting up to ${timeout_s} s for every rank)`,
    ),
  );
  const world = await loadNative().joinWorld({
    ...place,
    backend,
    timeout_s,
    device: config.training.device,
  });
  const text = await world.shareFromRank0(
    place.rank === 0 ? JSON.stringify({ plan: plan!, training: config.training } satisfies SharedRun) : null,
  );
  const shared = JSON.parse(text) as SharedRun;
  // Rank 0's settings with this machine's share of its cores: LOCAL_WORLD_SIZE workers run here.
  const threads = threadsOfLocalWorker(shared.training.threads, place.local_world_size);
  const run = await TrainingRun.open({ ...config, training: { ...shared.training, threads } }, shared.plan, {
    onEvent: options.onEvent,
    world,
  });
  return { world, run };
}
