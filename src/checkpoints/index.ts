/**
 * The checkpoint folder (docs/architecture.md §3): what the trainer writes with and the server reads with.
 * Free of training code: it never parses a `.pt` (the addon writes and reads those); it knows files,
 * sidecars and names. One job per file:
 * - `store.ts`: the CheckpointStore class (one folder, one log) and commit (sidecar, links, retention);
 * - `names.ts`: every file and link name, made and parsed, checked by the contract's name rule;
 * - `scan.ts`: listing the folder (a `.pt`, its sidecar, its links; newest-first order);
 * - `verify.ts`: a file's sha256 against its sidecar, and the per-file-version cache of verdicts;
 * - `resolve.ts`: resume resolution (a named checkpoint or the newest valid one) with the guide's texts;
 * - `links.ts`: pointing, reading and checking the `…-latest.pt` / `…-best.pt` symlinks;
 * - `retention.ts`: what a commit leaves behind, deleted in a crash-safe order;
 * - `pins.ts`: `NAME.pt.pin` markers that keep a checkpoint out of retention;
 * - `reclaim.ts`: removing the temp files of writers killed mid-save (a run's start does, holding its lock);
 * - `test-scores.ts`: `NAME.pt.test.json`, a checkpoint's figures on the test splits (written when a run ends);
 * - `average-inputs.ts`: which checkpoints an average is made of (src/averaging/ makes it);
 * - `backup.ts`: copies to `paths.backup` after commits, and restoring from them on resume;
 * - `sidecar.ts`: the sidecar format; `compat.ts`: whether a checkpoint fits the requested model;
 * - `lock.ts`: the one-writer lock (a kernel lock; `lock-owner.ts`: its record and lease); `files.ts`: crash-safe writes and null-on-missing reads.
 *
 * Trainer, per save:
 * ```ts
 * const store = new CheckpointStore({ dir: config.paths.checkpoints, log, backup: backupOptions(config) });
 * const lock = await store.acquireLock(model, dataset);          // E_LOCKED while another trainer writes
 * const from = await store.resolveForResume({ model, dataset, specific });
 * // then checkResumeCompatibility(from.name, <from.sidecar's model_config, batch_size>, { model_config, batch_size })
 * const name = await store.nameForSave(model, dataset, epoch, midEpoch ? step : null); // never a committed name
 * await trainer.save(store.pathOf(name), meta);                  // the addon: atomic .pt
 * await store.commit({ name, model, dataset, step, global_step, metrics, config_hash, run_id,
 *                      resumed_from: from.name, model_config, batch_size, retain: { keep: checkpoint_retention, resumedFrom: from.name } });
 * await lock.release();
 * ```
 * Server: `list({ model?, dataset? })` for GET /api/checkpoints, `resolveForResume()` to answer a start.
 *
 * Names: `{model}-{dataset}-epoch-{N}.pt` ends epoch N; `…-epoch-{N}-step-{S}.pt` is a save after S
 * steps of epoch N (N not finished), ordered by S and before `…-epoch-{N}.pt`. `…-latest.pt` and `…-best.pt` are
 * relative symlinks to the newest valid checkpoint and to the lowest `metrics.val_cer`.
 *
 * Averages: `{model}-{dataset}-avg-{F}-{L}.pt` is the mean of epoch checkpoints F..L (kind `average`, its
 * sidecar lists `averaged_from`). It competes for `best` (its own val CER), never for `latest` or auto-resume
 * (isTrainingSave() in scan.ts), and retention never deletes it.
 *
 * Timelines: a committed checkpoint is never overwritten. A run resumed from an older checkpoint that
 * reaches a position already saved writes `…-epoch-{N}-v2.pt` (`-v3`, …; `…-epoch-N-step-S-v2.pt`)
 * beside it, and every sidecar records its `run_id` and the checkpoint the run `resumed_from`. "Newest"
 * (the `latest` link, auto-resume, retention's count) is then the most recently committed checkpoint of
 * the most recent run, not the furthest-trained one: see orderNewestFirst() in scan.ts.
 *
 * Retention (`checkpoint_retention`, after each commit): the newest N epoch checkpoints stay, and
 * always the best, the newest, the one the run resumed from, the one just committed and pinned ones;
 * step checkpoints go once a newer epoch checkpoint of the same or a later epoch is committed. `0` keeps every
 * checkpoint. Leftovers of interrupted saves (temp files, a `.pt` without sidecar, a sidecar without
 * `.pt`) older than the save being committed are removed. Only this model/dataset's files are touched.
 */
export { CheckpointStore, type CheckpointStoreOptions, type CommitRequest, type CommitResult } from './store.js';
export { type ListFilter } from './scan.js';
export { type ResolveRequest, type ResolvedCheckpoint } from './resolve.js';
export { type RetainRequest } from './retention.js';
export { type ReclaimedTemp } from './reclaim.js';
export { MIN_AVERAGE_INPUTS, type AverageInputsRequest } from './average-inputs.js';
export { backupOptions, type BackupOptions } from './backup.js';
export { readTestScores, writeTestScores } from './test-scores.js';
export {
  averageCheckpointName,
  checkpointName,
  isLinkNameFor,
  linkName,
  lockFileName,
  parseCheckpointName,
  pinName,
  sidecarName,
  validateDatasetName,
  validateModelName,
  validatePlainFileName,
  versionedCheckpointName,
  type CheckpointKind,
  type LinkRole,
  type ParsedCheckpointName,
} from './names.js';
export {
  SIDECAR_FORMAT_VERSION,
  parseSidecar,
  serializeSidecar,
  type CheckpointMetrics,
  type CheckpointSidecar,
  type ModelConfigRecord,
  type SidecarCheck,
} from './sidecar.js';
export { checkResumeCompatibility, type ResumeCompatibility, type ResumeSettings } from './compat.js';
export { type CheckpointLock, type LockOwner } from './lock.js';
export { sha256File, writeFileAtomic } from './files.js';
