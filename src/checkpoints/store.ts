/**
 * The CheckpointStore class, the one object the trainer and the server hold, and the commit that turns
 * a `.pt` the addon has written into a checkpoint (sidecar, links, retention, backup). The other jobs live in
 * their own files (see index.ts); this class binds them to one folder and one log.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { BrokenLink, CheckpointEntry } from '../contract/index.js';
import { AsrTrainerError } from '../errors.js';
import { warningsToStderr, type Log } from '../log.js';
import { lstatOrNull, readNames, sha256File, writeFileAtomic } from './files.js';
import { brokenLinks, updateLinks } from './links.js';
import { BackupCopier, type BackupOptions } from './backup.js';
import { acquireLock, type CheckpointLock } from './lock.js';
import { selectAverageInputs, type AverageInputsRequest } from './average-inputs.js';
import {
  averageCheckpointName,
  checkpointName,
  checkpointOfSidecarName,
  lockFileName,
  pairPrefix,
  parseCheckpointName,
  pinName,
  prefixOf,
  sidecarName,
  validateDatasetName,
  validateModelName,
  validatePlainFileName,
  versionedCheckpointName,
} from './names.js';
import { setPinned } from './pins.js';
import { reclaimAbandonedTemps, type ReclaimedTemp } from './reclaim.js';
import { resolveForResume, type ResolveRequest, type ResolvedCheckpoint } from './resolve.js';
import { retain, validateRetention, type RetainRequest } from './retention.js';
import { MIB, orderForListing, scanFolder, validateFilter, type ListFilter, type Scanned } from './scan.js';
import {
  SIDECAR_FORMAT_VERSION,
  parseSidecar,
  serializeSidecar,
  type CheckpointMetrics,
  type CheckpointSidecar,
  type ModelConfigRecord,
} from './sidecar.js';
import { HashVerdicts } from './verify.js';

export interface CheckpointStoreOptions {
  /** The checkpoint folder (`paths.checkpoints`); created on the first write. */
  dir: string;
  /** Default: warnings to stderr (skipped checkpoints, takeovers), the rest dropped. */
  log?: Log;
  /** `paths.backup` and `training.backup_every_epochs` (backupOptions()); null or absent: no backups. */
  backup?: BackupOptions | null;
}

export interface CommitRequest {
  /** From checkpointName(); the addon has already written it atomically. */
  name: string;
  model: string;
  dataset: string;
  /** Steps done inside the checkpoint's epoch. */
  step: number;
  global_step: number;
  metrics?: CheckpointMetrics;
  config_hash: string;
  run_id: string;
  /** The checkpoint this run resumed from (null: a fresh start); recorded in the sidecar as the lineage. */
  resumed_from?: string | null;
  model_config?: ModelConfigRecord;
  batch_size?: number;
  /** Processes that trained it (1: one process); the position counts global batches either way. */
  world_size?: number;
  /** Apply retention right after the commit (what the trainer does after each save). */
  retain?: { keep: number; resumedFrom?: string | null };
  /** An average's (an `…-avg-F-L.pt` name) inputs, required for one and refused for any other. */
  averaged_from?: string[];
}

export interface CommitResult {
  name: string;
  path: string;
  sidecar: CheckpointSidecar;
  /** Where the links point after the commit (null: no link). */
  latest: string | null;
  best: string | null;
  /** Files retention removed (empty without `retain`). */
  deleted: string[];
}

export class CheckpointStore {
  readonly dir: string;
  private readonly log: Log;
  private readonly verdicts = new HashVerdicts();
  private readonly backups: BackupCopier | null;

  constructor(options: CheckpointStoreOptions) {
    if (typeof options.dir !== 'string' || options.dir.length === 0) {
      throw new AsrTrainerError(
        'E_INVALID_ARGUMENT',
        'CheckpointStore needs the checkpoint folder (paths.checkpoints)',
      );
    }
    this.dir = path.resolve(options.dir);
    this.log = options.log ?? warningsToStderr;
    this.backups = options.backup ? new BackupCopier(this.dir, options.backup, this.log) : null;
  }

  checkpointName(model: string, dataset: string, epoch: number, step?: number | null): string {
    return checkpointName(model, dataset, epoch, step);
  }

  /**
   * The name a new save at this position is written under: checkpointName(), or, when a checkpoint of
   * that name is already committed (a resume from an older checkpoint retrains its epochs), the first
   * free `…-vN.pt` (N ≥ 2), with a log line. A committed checkpoint is never overwritten. Taken means
   * a sidecar or a pin marker here or in the backup folder; a `.pt` without either is an unfinished
   * save, which the addon's atomic write may replace.
   */
  async nameForSave(model: string, dataset: string, epoch: number, step?: number | null): Promise<string> {
    const base = checkpointName(model, dataset, epoch, step);
    const name = await this.freeName(base);
    if (name !== base) {
      this.log('info', `Checkpoint '${base}' already exists (an earlier timeline); this run saves '${name}' beside it`);
    }
    return name;
  }

  /** nameForSave() for an average of epochs `first`..`last`: `…-avg-F-L.pt`, or `…-avg-F-L-vN.pt` when taken. */
  async nameForAverage(model: string, dataset: string, first: number, last: number): Promise<string> {
    const base = averageCheckpointName(model, dataset, first, last);
    const name = await this.freeName(base);
    if (name !== base) this.log('info', `Average '${base}' already exists; this average is saved as '${name}'`);
    return name;
  }

  /** See selectAverageInputs() (average-inputs.ts): the verified inputs of an average, in epoch order. */
  selectAverageInputs(request: AverageInputsRequest): Promise<Scanned[]> {
    return selectAverageInputs(this.dir, this.log, request);
  }

  private async freeName(base: string): Promise<string> {
    const folders = [this.dir, ...(this.backups ? [this.backups.options.dir] : [])];
    const taken = async (name: string): Promise<boolean> => {
      for (const folder of folders) {
        for (const file of [sidecarName(name), pinName(name)]) {
          if ((await lstatOrNull(path.join(folder, file)).catch(() => null)) !== null) return true;
        }
      }
      return false;
    };
    let version = 1;
    while (await taken(versionedCheckpointName(base, version))) version += 1;
    return versionedCheckpointName(base, version);
  }

  /** Absolute path of a plain file name in the folder; anything else is E_INVALID_ARGUMENT. */
  pathOf(name: string): string {
    return path.join(this.dir, validatePlainFileName(name));
  }

  /**
   * Every checkpoint of the folder (or of one model and/or dataset), newest first. A file whose bytes
   * no longer match its sidecar's sha256 (flipped or zeroed in place, same size) is listed invalid:
   * hashed once per file version (verify.ts).
   */
  async list(filter: ListFilter = {}): Promise<CheckpointEntry[]> {
    validateFilter(filter);
    const scanned = await scanFolder(this.dir, filter);
    await this.verdicts.flagDamaged(this.dir, scanned);
    return orderForListing(scanned).map((s) => s.entry);
  }

  /** See resolve.ts: a named checkpoint, or the newest valid one; restored from the backup folder when damaged here. */
  resolveForResume(request: ResolveRequest): Promise<ResolvedCheckpoint> {
    return resolveForResume(this.dir, this.log, request, this.backups?.options.dir ?? null);
  }

  /** Pins or unpins a checkpoint (pins.ts); E_CHECKPOINT_NOT_FOUND for a name that is not a checkpoint here. */
  setPinned(name: string, pinned: boolean): Promise<{ name: string; pinned: boolean }> {
    return setPinned(this.dir, name, pinned);
  }

  /** Settles once every backup copy queued so far is done (copies never fail a commit). */
  backupsIdle(): Promise<void> {
    return this.backups?.idle() ?? Promise.resolve();
  }

  /**
   * The `…-latest.pt` and `…-best.pt` links that cannot be followed (GET /api/checkpoints shows them
   * beside the checkpoints): resume never follows them, but they mean something other than a clean
   * commit touched the folder.
   */
  brokenLinks(filter: ListFilter = {}): Promise<BrokenLink[]> {
    return brokenLinks(this.dir, filter);
  }

  /**
   * Marks a `.pt` the addon has written as done: writes its sidecar atomically, moves the latest and
   * best links, applies retention when asked, and queues its backup copy when it is one to back up.
   */
  async commit(request: CommitRequest): Promise<CommitResult> {
    const model = validateModelName(request.model);
    const dataset = validateDatasetName(request.dataset);
    const name = validatePlainFileName(request.name);
    const parsed = parseCheckpointName(name);
    if (parsed === null || parsed.prefix !== pairPrefix(model, dataset)) {
      throw new AsrTrainerError(
        'E_INVALID_ARGUMENT',
        `'${name}' is not a checkpoint name of model '${model}' and dataset '${dataset}'; make it with checkpointName()`,
      );
    }
    for (const key of ['step', 'global_step'] as const) {
      const value = request[key];
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new AsrTrainerError(
          'E_INVALID_ARGUMENT',
          `commit: ${key} must be a non-negative integer, got ${String(value)}`,
        );
      }
    }
    if ((parsed.kind === 'average') !== (request.averaged_from !== undefined)) {
      throw new AsrTrainerError(
        'E_INVALID_ARGUMENT',
        parsed.kind === 'average'
          ? `Cannot commit average '${name}' without averaged_from (its inputs)`
          : `Cannot commit '${name}' with averaged_from: only an …-avg-F-L.pt name holds an average`,
      );
    }
    if (request.retain) validateRetention(request.retain.keep);
    await assertNoNameCollision(this.dir, model, dataset);
    const ptPath = path.join(this.dir, name);
    const stats = await lstatOrNull(ptPath);
    if (stats === null || !stats.isFile()) {
      throw new AsrTrainerError(
        'E_IO',
        `Cannot commit checkpoint '${name}': ${stats === null ? 'the file does not exist' : 'it is not a regular file'} in '${this.dir}'; the addon must write it first`,
      );
    }
    const { sha256, size } = await sha256File(ptPath);
    const sidecar: CheckpointSidecar = {
      format_version: SIDECAR_FORMAT_VERSION,
      name,
      model_name: model,
      dataset_name: dataset,
      kind: parsed.kind,
      epoch: parsed.epoch,
      step: request.step,
      global_step: request.global_step,
      sha256,
      size,
      metrics: request.metrics ?? {},
      config_hash: request.config_hash,
      created_at: new Date().toISOString(),
      run_id: request.run_id,
      resumed_from: request.resumed_from ?? null,
      ...(request.model_config !== undefined ? { model_config: request.model_config } : {}),
      ...(request.batch_size !== undefined ? { batch_size: request.batch_size } : {}),
      ...(request.averaged_from !== undefined ? { averaged_from: request.averaged_from } : {}),
      ...(request.world_size !== undefined ? { world_size: request.world_size } : {}),
    };
    // A sidecar this store could not read back would silently turn a good save into a skipped one.
    const check = parseSidecar(serializeSidecar(sidecar));
    if (!check.ok)
      throw new AsrTrainerError('E_INVALID_ARGUMENT', `Cannot commit checkpoint '${name}': ${check.problem}`);
    await writeFileAtomic(path.join(this.dir, sidecarName(name)), serializeSidecar(sidecar));
    this.log('info', `Saved checkpoint '${name}' (${(size / MIB).toFixed(2)} MB)`);

    const links = await updateLinks(this.dir, this.log, model, dataset, { name, sha256 });
    // Queued, not awaited: the copy runs while the trainer goes on; retention leaves it alone meanwhile.
    if (this.backups?.wants(sidecar, links.best === name)) void this.backups.enqueue(name);
    const deleted = request.retain
      ? (
          await this.retain({
            model,
            dataset,
            keep: request.retain.keep,
            resumedFrom: request.retain.resumedFrom ?? null,
            current: name,
            inFlight: this.backups?.pending,
          })
        ).deleted
      : [];
    return { name, path: ptPath, sidecar, ...links, deleted };
  }

  /** Temp files of writers killed mid-save, of any pair, removed and logged (reclaim.ts); call it holding a lock. */
  reclaimAbandonedTemps(): Promise<ReclaimedTemp[]> {
    return reclaimAbandonedTemps(this.dir, this.log);
  }

  /** See retention.ts; commit() runs it when asked. */
  retain(request: RetainRequest): Promise<{ deleted: string[] }> {
    return retain(this.dir, this.log, request);
  }

  /** The one-writer lock of a model/dataset in this folder; a live owner → E_LOCKED. */
  async acquireLock(model: string, dataset: string): Promise<CheckpointLock> {
    validateModelName(model);
    validateDatasetName(dataset);
    await mkdir(this.dir, { recursive: true });
    await assertNoNameCollision(this.dir, model, dataset);
    return acquireLock({
      dir: this.dir,
      fileName: lockFileName(model, dataset),
      model,
      dataset,
      onTakeover: (previous, reason) =>
        this.log(
          'warning',
          `Took over the checkpoint lock of model '${model}' and dataset '${dataset}' from process ${previous.pid} (${reason})`,
        ),
    });
  }
}

/**
 * Names are `{model}-{dataset}-…`, so model 'a' with dataset 'b-c' and model 'a-b' with dataset 'c'
 * would write the same files. Refused as soon as the folder shows both.
 */
async function assertNoNameCollision(dir: string, model: string, dataset: string): Promise<void> {
  const prefix = pairPrefix(model, dataset);
  for (const name of await readNames(dir)) {
    const checkpoint = checkpointOfSidecarName(name);
    if (checkpoint === null) continue;
    const parsed = parseCheckpointName(checkpoint);
    if (parsed === null || parsed.prefix !== prefix) continue;
    const check = parseSidecar(await readFile(path.join(dir, name), 'utf8').catch(() => ''));
    if (!check.ok) continue;
    const other = check.sidecar;
    // A sidecar copied or renamed onto another file (its own name or pair differs from the file's) is
    // a damaged checkpoint, which listing flags and resume skips; it must not lock the pair out.
    if (sidecarName(other.name) !== name || prefixOf(other.model_name, other.dataset_name) !== prefix) continue;
    if (other.model_name !== model || other.dataset_name !== dataset) {
      throw new AsrTrainerError(
        'E_INVALID_ARGUMENT',
        `Model '${model}' with dataset '${dataset}' would share checkpoint file names with model '${other.model_name}' and dataset '${other.dataset_name}' ('${name}'); rename the model or the dataset in config.yaml`,
      );
    }
  }
}
