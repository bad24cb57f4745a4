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
import { scanOne, scanPair } from './scan.js';
import type { CheckpointSidecar } from './sidecar.js';
import type { CheckpointLogger } from './store.js';
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
  /** Skipped files and a broken latest link, in words for the user (also sent to the logger). */
  warnings: string[];
}

/**
 * The checkpoint a run resumes from. A named one must be a valid checkpoint of this model and
 * dataset; otherwise the newest valid one, skipping (with a warning) any without a valid sidecar or
 * whose sha256 differs.
 */
export async function resolveForResume(
  dir: string,
  logger: CheckpointLogger,
  request: ResolveRequest,
): Promise<ResolvedCheckpoint> {
  const model = validateModelName(request.model);
  const dataset = validateDatasetName(request.dataset);
  const resolved =
    request.specific !== undefined && request.specific !== null
      ? await resolveSpecific(dir, model, dataset, request.specific)
      : await resolveLatest(dir, logger, model, dataset);
  logger.info(`Resuming from checkpoint '${resolved.name}' (epoch ${resolved.sidecar.epoch}, step ${resolved.sidecar.step})`);
  return resolved;
}

async function resolveLatest(
  dir: string,
  logger: CheckpointLogger,
  model: string,
  dataset: string,
): Promise<ResolvedCheckpoint> {
  const warnings: string[] = [];
  // The newest checkpoint is found by scanning, never through the latest link; a broken link is
  // still worth a warning, since it was left by something other than a clean commit.
  const link = linkName(model, dataset, 'latest');
  const linkTrouble = await linkProblem(dir, link);
  if (linkTrouble !== null) {
    const warning = `Ignoring link '${link}': ${linkTrouble}; resuming the newest valid checkpoint instead`;
    logger.warn(warning);
    warnings.push(warning);
  }
  for (const s of await scanPair(dir, model, dataset)) {
    const problem = s.entry.problem ?? (await hashProblem(dir, s));
    if (problem === null) {
      return { name: s.entry.name, path: path.join(dir, s.entry.name), sidecar: s.sidecar!, warnings };
    }
    const warning = `Skipping checkpoint '${s.entry.name}': ${problem}; falling back to an older checkpoint`;
    logger.warn(warning);
    warnings.push(warning);
  }
  throw new AsrTrainerError(
    'E_NO_CHECKPOINT',
    `No checkpoint found for model '${model}' and dataset '${dataset}'`,
    { model_name: model, dataset_name: dataset },
  );
}

async function resolveSpecific(dir: string, model: string, dataset: string, specific: string): Promise<ResolvedCheckpoint> {
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
      throw damaged(`it is a link to '${target}', outside the checkpoint folder '${dir}'; name a checkpoint from GET /api/checkpoints`);
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
      `Invalid checkpoint name: '${requested}' is not a checkpoint file (expected ${model}-${dataset}-epoch-N.pt or …-epoch-N-step-S.pt)`,
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
