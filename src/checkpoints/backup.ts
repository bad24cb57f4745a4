/**
 * The backup folder (`paths.backup`): a second copy of the checkpoints that matter (the best, and every
 * `training.backup_every_epochs`-th epoch), for when the checkpoint folder's disk fails or a file in
 * it is damaged. Copies run after the commit, one at a time, on libuv's threads: the trainer never
 * waits for one. Each copy is verified by sha256 before it takes its final name; retention never
 * looks at this folder. A missing folder or a failed copy (a full disk) is a warning, never an error:
 * the folder is not created, because a missing folder usually means a volume that is not mounted, and
 * creating it would fill the disk the backup was meant to protect against.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { AsrTrainerError } from '../errors.js';
import { copyFileVerified, lstatOrNull, writeFileAtomic } from './files.js';
import { parseCheckpointName, sidecarName } from './names.js';
import { scanOne, type Scanned } from './scan.js';
import { parseSidecar, type CheckpointSidecar } from './sidecar.js';
import type { Log } from '../log.js';
import { hashProblem } from './verify.js';

export interface BackupOptions {
  /** `paths.backup`, absolute. */
  dir: string;
  /** `training.backup_every_epochs`: also every N-th epoch checkpoint; 0 backs up the best only. */
  everyEpochs: number;
}

/** The store's backup options from a loaded config; null without `paths.backup`. */
export function backupOptions(config: {
  paths: { backup?: string };
  training: { backup_every_epochs?: number };
}): BackupOptions | null {
  const dir = config.paths.backup;
  return dir ? { dir: path.resolve(dir), everyEpochs: config.training.backup_every_epochs ?? 0 } : null;
}

/** The queue of copies of one store. */
export class BackupCopier {
  private queue: Promise<void> = Promise.resolve();
  /** Checkpoints queued or being copied: retention must leave their primary copy alone until then. */
  readonly pending = new Set<string>();

  constructor(
    private readonly primaryDir: string,
    readonly options: BackupOptions,
    private readonly log: Log,
  ) {}

  /** Whether a just-committed checkpoint is backed up: the best one, or an epoch end every N epochs. */
  wants(sidecar: CheckpointSidecar, isBest: boolean): boolean {
    const every = this.options.everyEpochs;
    return isBest || (sidecar.kind === 'epoch' && every > 0 && sidecar.epoch % every === 0);
  }

  /** Queues the copy of `name` and its sidecar; the promise settles when it is done (never rejects). */
  enqueue(name: string): Promise<void> {
    this.pending.add(name);
    this.queue = this.queue.then(() => this.copy(name)).finally(() => this.pending.delete(name));
    return this.queue;
  }

  /** Settles once every queued copy is done. */
  idle(): Promise<void> {
    return this.queue;
  }

  private async copy(name: string): Promise<void> {
    const backupDir = this.options.dir;
    const notCopied = (why: string): void =>
      this.log(
        'warning',
        `Checkpoint '${name}' was not backed up to '${backupDir}' (paths.backup): ${why}; training goes on, the checkpoint is only in '${this.primaryDir}'`,
      );
    try {
      const folder = await stat(backupDir).catch(() => null);
      if (folder === null || !folder.isDirectory()) {
        notCopied('the folder does not exist (mount the volume or create the folder)');
        return;
      }
      const text = await readFile(path.join(this.primaryDir, sidecarName(name)), 'utf8');
      const check = parseSidecar(text);
      if (!check.ok) return notCopied(check.problem);
      const present = parseSidecar(await readFile(path.join(backupDir, sidecarName(name)), 'utf8').catch(() => ''));
      if (present.ok) {
        if (present.sidecar.sha256 !== check.sidecar.sha256) {
          notCopied('the backup folder holds a different checkpoint of that name, which is never replaced');
        }
        return;
      }
      await copyFileVerified(path.join(this.primaryDir, name), path.join(backupDir, name), check.sidecar.sha256);
      await writeFileAtomic(path.join(backupDir, sidecarName(name)), text);
      this.log('info', `Backed up checkpoint '${name}' to '${backupDir}' (sha256 verified)`);
    } catch (error) {
      notCopied((error as Error).message);
    }
  }
}

/** The backup folder's copy of a checkpoint when its sidecar is valid and its bytes match; else null. */
export async function validBackup(
  backupDir: string,
  name: string,
  model: string,
  dataset: string,
): Promise<Scanned | null> {
  const parsed = parseCheckpointName(name);
  const stats = await lstatOrNull(path.join(backupDir, name)).catch(() => null);
  if (parsed === null || stats === null || !stats.isFile()) return null;
  const scanned = await scanOne(backupDir, name, parsed, stats, { model, dataset });
  if (
    scanned === null ||
    !scanned.entry.valid ||
    scanned.entry.model_name !== model ||
    scanned.entry.dataset_name !== dataset
  ) {
    return null;
  }
  return (await hashProblem(backupDir, scanned)) === null ? scanned : null;
}

/** Puts a verified backup copy back into the checkpoint folder: the `.pt` (verified again), then its sidecar. */
export async function restoreFromBackup(primaryDir: string, backupDir: string, copy: Scanned): Promise<void> {
  const name = copy.entry.name;
  if (copy.sidecar === null) throw new AsrTrainerError('E_IO', `The backup of '${name}' has no valid sidecar`);
  const text = await readFile(path.join(backupDir, sidecarName(name)), 'utf8');
  await mkdir(primaryDir, { recursive: true });
  await copyFileVerified(path.join(backupDir, name), path.join(primaryDir, name), copy.sidecar.sha256);
  await writeFileAtomic(path.join(primaryDir, sidecarName(name)), text);
}
