/**
 * Resume resolution: which checkpoint a run resumes from, a named one or the newest valid one, with
 * the guide's texts for every way it can fail (E_NO_CHECKPOINT, E_CHECKPOINT_NOT_FOUND,
 * E_CHECKPOINT_CORRUPT, E_INVALID_ARGUMENT). Whether the checkpoint fits the requested model is the
 * caller's question (checkResumeCompatibility()).
 */
import type { Stats } from 'node:fs';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { AsrTrainerError } from '../errors.js';
import { lstatOrNull, readlinkOrNull } from './files.js';
import { linkProblem } from './links.js';
import {
  checkpointNameCandidates,
  linkName,
  parseCheckpointName,
  validateDatasetName,
  validateModelName,
  validatePlainFileName,
} from './names.js';
import { restoreFromBackup, validBackup } from './backup.js';
import { isTrainingSave, orderNewestFirst, scanOne, scanPair, type Scanned } from './scan.js';
import type { CheckpointSidecar } from './sidecar.js';
import type { Log } from '../log.js';
import { hashProblem } from './verify.js';

export interface ResolveRequest {
  model: string;
  dataset: string;
  /** `specific_checkpoint`: a file name from the list, `…-latest.pt` or `…-best.pt`; absent: the newest valid one. */
  specific?: string | null;
}

export interface ResolvedCheckpoint {
  name: string;
  path: string;
  sidecar: CheckpointSidecar;
  /** Skipped files and a broken latest link, in words for the user (also logged). */
  warnings: string[];
}

/**
 * The checkpoint a run resumes from. A named one must be a valid checkpoint of this model and
 * dataset (an average included); otherwise the newest valid training save (orderNewestFirst(),
 * isTrainingSave()), skipping (with a warning) any without
 * a valid sidecar or whose sha256 differs. With a backup folder, a checkpoint whose copy here is
 * missing or damaged is first restored from its verified backup copy (with a warning).
 */
export async function resolveForResume(
  dir: string,
  log: Log,
  request: ResolveRequest,
  backupDir: string | null = null,
): Promise<ResolvedCheckpoint> {
  const model = validateModelName(request.model);
  const dataset = validateDatasetName(request.dataset);
  const restore: Restore = async (name, problem) => {
    const copy = backupDir === null ? null : await validBackup(backupDir, name, model, dataset);
    if (copy === null) return null;
    await restoreFromBackup(dir, backupDir!, copy);
    const warning = `Checkpoint '${name}' in '${dir}': ${problem}; restored it from the backup folder '${backupDir}' (sha256 verified)`;
    log('warning', warning);
    return { warning, sidecar: copy.sidecar! };
  };
  const resolved =
    request.specific !== undefined && request.specific !== null
      ? await resolveSpecificOrBackup(dir, model, dataset, request.specific, restore)
      : await resolveLatest(dir, log, model, dataset, backupDir, restore);
  log(
    'info',
    `Resuming from checkpoint '${resolved.name}' (epoch ${resolved.sidecar.epoch}, step ${resolved.sidecar.step})`,
  );
  return resolved;
}

/** Puts a checkpoint's backup copy in place: the warning to show and its sidecar, or null without a good copy. */
type Restore = (name: string, problem: string) => Promise<{ warning: string; sidecar: CheckpointSidecar } | null>;

async function resolveLatest(
  dir: string,
  log: Log,
  model: string,
  dataset: string,
  backupDir: string | null,
  restore: Restore,
): Promise<ResolvedCheckpoint> {
  const warnings: string[] = [];
  // The newest checkpoint is found by scanning, never through the latest link; a broken link is
  // still worth a warning, since it was left by something other than a clean commit.
  const link = linkName(model, dataset, 'latest');
  const linkTrouble = await linkProblem(dir, link);
  if (linkTrouble !== null) {
    const warning = `Ignoring link '${link}': ${linkTrouble}; resuming the newest valid checkpoint instead`;
    log('warning', warning);
    warnings.push(warning);
  }
  const here = await scanPair(dir, model, dataset);
  const names = new Set(here.map((s) => s.entry.name));
  // Checkpoints only the backup folder still has (the primary copy was deleted or lost) take their
  // place in the order too: the copy is checked when its turn comes.
  const backupOnly = backupDir === null ? [] : await scanPair(backupDir, model, dataset).catch(() => [] as Scanned[]);
  const candidates = orderNewestFirst([
    ...here,
    ...backupOnly.filter((s) => s.entry.valid && !names.has(s.entry.name)),
  ]).filter(isTrainingSave);
  for (const s of candidates) {
    const problem = names.has(s.entry.name) ? (s.entry.problem ?? (await hashProblem(dir, s))) : `the file is missing`;
    if (problem === null) {
      return { name: s.entry.name, path: path.join(dir, s.entry.name), sidecar: s.sidecar!, warnings };
    }
    const restored = await restore(s.entry.name, problem);
    if (restored !== null) {
      warnings.push(restored.warning);
      return { name: s.entry.name, path: path.join(dir, s.entry.name), sidecar: restored.sidecar, warnings };
    }
    const warning = `Skipping checkpoint '${s.entry.name}': ${problem}; falling back to an older checkpoint`;
    log('warning', warning);
    warnings.push(warning);
  }
  throw new AsrTrainerError('E_NO_CHECKPOINT', `No checkpoint found for model '${model}' and dataset '${dataset}'`, {
    model_name: model,
    dataset_name: dataset,
  });
}

/**
 * resolveSpecific(), and when the named checkpoint is missing or damaged here but has a good backup
 * copy, the same after restoring it. Links have no backup copy: a broken link stays an error.
 */
async function resolveSpecificOrBackup(
  dir: string,
  model: string,
  dataset: string,
  specific: string,
  restore: Restore,
): Promise<ResolvedCheckpoint> {
  try {
    return await resolveSpecific(dir, model, dataset, specific);
  } catch (error) {
    if (
      !(error instanceof AsrTrainerError) ||
      !['E_CHECKPOINT_NOT_FOUND', 'E_CHECKPOINT_CORRUPT'].includes(error.code)
    ) {
      throw error;
    }
    for (const candidate of checkpointNameCandidates(validatePlainFileName(specific))) {
      if (parseCheckpointName(candidate) === null) continue;
      const restored = await restore(candidate, error.message);
      if (restored === null) continue;
      const resolved = await resolveSpecific(dir, model, dataset, candidate);
      return { ...resolved, warnings: [restored.warning] };
    }
    throw error;
  }
}

async function resolveSpecific(
  dir: string,
  model: string,
  dataset: string,
  specific: string,
): Promise<ResolvedCheckpoint> {
  const requested = validatePlainFileName(specific);
  const notFound = (): AsrTrainerError =>
    new AsrTrainerError('E_CHECKPOINT_NOT_FOUND', `Specified checkpoint '${requested}' not found`, {
      checkpoint: requested,
    });
  let found: { name: string; stats: Stats } | null = null;
  for (const candidate of checkpointNameCandidates(requested)) {
    const stats = await lstatOrNull(path.join(dir, candidate));
    if (stats !== null) {
      found = { name: candidate, stats };
      break;
    }
  }
  if (found === null) throw notFound();

  let name = found.name;
  // The request names an entry that exists; when the entry itself is broken, the folder is damaged
  // (422), which is not the caller's mistake.
  const damaged = (problem: string): AsrTrainerError =>
    new AsrTrainerError('E_CHECKPOINT_CORRUPT', `Checkpoint '${requested}' cannot be resumed: ${problem}`, {
      checkpoint: requested,
      problem,
    });
  if (found.stats.isSymbolicLink()) {
    const target = (await readlinkOrNull(path.join(dir, name))) ?? '?';
    let real: string;
    try {
      real = await realpath(path.join(dir, name));
    } catch {
      throw damaged(`it is a link to '${target}', which does not exist; name a checkpoint from GET /api/checkpoints`);
    }
    const realDir = await realpath(dir);
    if (path.dirname(real) !== realDir) {
      throw damaged(
        `it is a link to '${target}', outside the checkpoint folder '${dir}'; name a checkpoint from GET /api/checkpoints`,
      );
    }
    name = path.basename(real);
    const targetStats = await lstatOrNull(real);
    if (targetStats === null) throw notFound();
    found = { name, stats: targetStats };
  }
  const parsed = parseCheckpointName(name);
  if (!found.stats.isFile() && parsed !== null) {
    throw damaged(`'${name}' is not a regular file; name a checkpoint from GET /api/checkpoints`);
  }
  if (!found.stats.isFile() || parsed === null) {
    throw new AsrTrainerError(
      'E_INVALID_ARGUMENT',
      `Invalid checkpoint name: '${requested}' is not a checkpoint file (expected ${model}-${dataset}-epoch-N.pt, …-epoch-N-step-S.pt or …-avg-F-L.pt)`,
    );
  }
  const scanned = await scanOne(dir, name, parsed, found.stats, { model, dataset });
  if (scanned === null || scanned.entry.model_name !== model || scanned.entry.dataset_name !== dataset) {
    const whose = scanned
      ? `model '${scanned.entry.model_name}' and dataset '${scanned.entry.dataset_name}'`
      : 'another model or dataset';
    throw new AsrTrainerError(
      'E_INVALID_ARGUMENT',
      `Checkpoint '${name}' belongs to ${whose}, not to model '${model}' and dataset '${dataset}'`,
      { checkpoint: name },
    );
  }
  const problem = scanned.entry.problem ?? (await hashProblem(dir, scanned));
  if (problem !== null) {
    throw new AsrTrainerError('E_CHECKPOINT_CORRUPT', `Checkpoint '${name}' cannot be resumed: ${problem}`, {
      checkpoint: name,
      problem,
    });
  }
  return { name, path: path.join(dir, name), sidecar: scanned.sidecar!, warnings: [] };
}
