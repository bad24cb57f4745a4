/**
 * Training — the one loop the server's trainer process, the CLI and a Node script all use.
 *
 * In process:
 * ```ts
 * import { TrainingRun } from './training/index.js';
 * const run = await TrainingRun.prepare(config, {            // config: AsrConfig (src/config)
 *   model_name: 'conformer', dataset_name: 'mini-ljspeech',
 *   epochs: 3,                        // TOTAL epochs; resuming epoch 2 with epochs 3 trains epoch 3
 *   // batch_size?, lightweight?, limit_samples?, resume_from_checkpoint? (default training.auto_resume),
 *   // specific_checkpoint? (a name from GET /api/checkpoints; implies resuming)
 * }, { onEvent: (e) => console.log(e.type, e.payload) });   // events while preparing too
 * // options also: runId?, mustResume? (true: no checkpoint → E_NO_CHECKPOINT instead of a fresh start)
 * run.plan;   // RunPlan {run_id, model_name, dataset_name, resumed_from, start_epoch, start_step, epochs, ...}
 * process.once('SIGINT', () => run.stop());   // finishes the step, saves …-epoch-N-step-S.pt, commits
 * const outcome = await run.run();   // RunOutcome {state: 'completed'|'stopped', epoch, step, global_step,
 *                                    //             last_checkpoint}; run({signal}): abort = stop()
 * run.status();                      // StatusPayload (src/contract), moved by the run's own events
 * await run.close();                 // only when not calling run(): releases the folder lock
 * ```
 * `prepare` resolves the checkpoint through the CheckpointStore, takes the store's folder lock (held until
 * `run` ends or `close()`), loads the dataset into a FeatureStore (cached under paths.cache), builds the
 * Trainer and loads the checkpoint. `run({signal})` trains epoch by epoch, validates each epoch end (val
 * loss, CER, WER), saves `{model}-{dataset}-epoch-{N}.pt`, commits, applies retention and appends
 * `paths.runs/{model}-{dataset}/metrics.jsonl`. Events (`run.on('event', …)` or `onEvent`) are
 * `TrainingEvent`s: log | status | progress | checkpoint | metrics (shapes in src/contract/events.ts).
 *
 * `planRun(config, request)` answers what a start would do (resume source, epochs) without loading data
 * or locking — the server uses it to answer 202 or the error before forking the trainer, and
 * `TrainingRun.open(config, plan)` sets up exactly that plan (the trainer process does).
 *
 * Errors are AsrTrainerError: E_UNKNOWN_MODEL, E_UNKNOWN_DATASET, E_DATASET_NOT_FOUND,
 * E_CHECKPOINT_NOT_FOUND, E_NO_CHECKPOINT, E_CHECKPOINT_PAST_EPOCHS, E_CHECKPOINT_CORRUPT, E_LOCKED, …
 *
 * Supervised (the server): `new TrainingSupervisor(config)` forks ./child.ts per run;
 * `start(request)` → RunPlan (state claimed synchronously: a second concurrent start throws
 * E_TRAINING_IN_PROGRESS), `stop()`, `status()`, `on('event', …)`, `shutdown()`. The supervisor owns
 * the status; the trainer process only reports events.
 *
 * Data-parallel (distributed.nproc_per_node × nnodes > 1): the supervisor forks this node's workers with
 * torchrun's variables; each joins the c10d world, gets the plan from rank 0 and runs the same
 * TrainingRun attached to it (`openWorkerRun`); `asr-trainer worker` runs one elsewhere. Status carries
 * `world_size` and `restarts`; a dead worker fails the run naming its rank, or restarts the group.
 *
 * Files: ./plan.ts (what to resume), ./setup.ts (lock, features, trainer), ./run.ts (the epoch loop),
 * ./checkpoint-policy.ts (when and how a save lands), ./metrics-log.ts (metrics.jsonl), ./status.ts (the
 * status model), ./supervisor.ts + ./worker-process.ts + ./child.ts + ./ipc.ts (the trainer processes),
 * ./world-env.ts (a worker's place), ./layout.ts (how many workers and threads `auto` means here), ./worker.ts (joining a run), ./stop-vote.ts (stopping together),
 * ./id-trace.ts (ASR_TRAINER_TRACE_IDS).
 */
export type { StatusPayload, TrainingEvent, TrainingState, TrainRequest } from '../contract/index.js';
export * from './events.js';
export * from './status.js';
export * from './plan.js';
export * from './run.js';
export * from './supervisor.js';
export * from './metrics-log.js';
export * from './world-env.js';
export * from './layout.js';
export { openWorkerRun, type WorkerRun, type WorkerRunOptions } from './worker.js';
export { TRACE_IDS_ENV, type TracedStep } from './id-trace.js';
