/**
 * Retention (`training.checkpoint_retention`): which of a pair's files a commit leaves behind, and the
 * crash-safe order they are deleted in. Only the pair's own files are ever touched.
 */
import { readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { AsrTrainerError } from '../errors.js';
import { errno, fsyncDir, lstatOrNull, readNames } from './files.js';
import { linkTargets } from './links.js';
import { isPinned } from './pins.js';
import {
  checkpointOfSidecarName,
  isTempNameFor,
  pairPrefix,
  parseCheckpointName,
  sidecarName,
  testScoresName,
  validateDatasetName,
  validateModelName,
  validatePlainFileName,
} from './names.js';
import { isTrainingSave, scanPair, type Scanned } from './scan.js';
import { parseSidecar, valCer } from './sidecar.js';
import type { Log } from '../log.js';

export interface RetainRequest {
  model: string;
  dataset: string;
  /** `training.checkpoint_retention`: epoch checkpoints kept; 0 keeps every checkpoint. */
  keep: number;
  /** The checkpoint this run resumed from: never deleted. */
  resumedFrom?: string | null;
  /** The checkpoint just committed: never deleted; its mtime dates "older than the running save". */
  current?: string | null;
  /** Also never deleted this time: checkpoints whose backup copy is still being made. */
  inFlight?: Iterable<string>;
  /** Leftovers (temp files, `.pt` without sidecar) modified before this are removed; default: `current`'s mtime. */
  olderThan?: Date;
}

export function validateRetention(keep: unknown): number {
  if (typeof keep !== 'number' || !Number.isSafeInteger(keep) || keep < 0) {
    throw new AsrTrainerError(
      'E_INVALID_ARGUMENT',
      `checkpoint_retention must be a non-negative integer (0 keeps every checkpoint), got ${String(keep)}`,
    );
  }
  return keep;
}

/**
 * Deletes what retention no longer needs: epoch checkpoints beyond the newest `keep` (newest in
 * orderNewestFirst()'s sense: the most recent run's first), step checkpoints a newer epoch checkpoint
 * supersedes, and leftovers older than the running save. Never the best, the newest, the resumed-from
 * or the current checkpoint, a pinned one, a link target, anything of another model/dataset, nor
 * anything in the backup folder. Averages (`…-avg-F-L.pt`) are no epoch checkpoints: never counted,
 * never deleted; a person removes them. `keep: 0` deletes no checkpoint (leftovers still go).
 */
export async function retain(dir: string, log: Log, request: RetainRequest): Promise<{ deleted: string[] }> {
  const model = validateModelName(request.model);
  const dataset = validateDatasetName(request.dataset);
  const keep = validateRetention(request.keep);
  const resumedFrom = request.resumedFrom != null ? validatePlainFileName(request.resumedFrom) : null;
  const current = request.current != null ? validatePlainFileName(request.current) : null;

  const scanned = await scanPair(dir, model, dataset);
  const valid = scanned.filter((s) => s.entry.valid);
  const protectedNames = new Set<string>();
  const newest = valid.find(isTrainingSave);
  for (const name of [resumedFrom, current, newest?.entry.name, bestOf(valid)?.entry.name]) {
    if (name) protectedNames.add(name);
  }
  for (const target of await linkTargets(dir, model, dataset)) protectedNames.add(target);
  for (const name of request.inFlight ?? []) protectedNames.add(name);

  let threshold = request.olderThan?.getTime();
  if (threshold === undefined) {
    const currentStats = current ? await lstatOrNull(path.join(dir, current)) : null;
    threshold = currentStats?.mtimeMs ?? Date.now();
  }

  const doomed: { name: string; reason: string; withSidecar: boolean }[] = [];
  if (keep > 0) {
    const epochs = scanned.filter((s) => s.parsed.kind === 'epoch' && s.hasSidecarFile);
    for (const s of epochs.slice(keep)) {
      doomed.push({ name: s.entry.name, reason: `beyond checkpoint_retention ${keep}`, withSidecar: true });
    }
    for (const s of scanned.filter((x) => x.parsed.kind === 'step' && x.hasSidecarFile)) {
      // Only a newer epoch end supersedes a step save: an older timeline's epoch N does not hold the
      // step save of a branch that retrained epoch N.
      const newer = valid.slice(0, Math.max(0, valid.indexOf(s)));
      const later = (s.entry.valid ? newer : valid).find(
        (v) => v.parsed.kind === 'epoch' && v.parsed.epoch >= s.parsed.epoch,
      );
      if (later) {
        doomed.push({ name: s.entry.name, reason: `superseded by '${later.entry.name}'`, withSidecar: true });
      }
    }
  }
  for (const s of scanned) {
    if (!s.hasSidecarFile && s.mtimeMs < threshold) {
      doomed.push({ name: s.entry.name, reason: 'incomplete save (no sidecar)', withSidecar: false });
    }
  }

  const deleted: string[] = [];
  const deleteFile = async (name: string, reason: string): Promise<void> => {
    try {
      await unlink(path.join(dir, name));
    } catch (error) {
      if (errno(error) === 'ENOENT') return;
      throw error;
    }
    deleted.push(name);
    log('info', `Deleted '${name}' from '${dir}': ${reason}`);
  };
  for (const item of doomed) {
    // The pin marker is looked at again right before the delete: a pin set while retention ran counts.
    if (protectedNames.has(item.name) || (await isPinned(dir, item.name))) continue;
    // The sidecar (the done marker) goes first: a crash in between leaves an incomplete .pt, never a
    // sidecar vouching for a missing file.
    if (item.withSidecar) await deleteFile(sidecarName(item.name), item.reason);
    await deleteFile(item.name, item.reason);
    await deleteFile(testScoresName(item.name), item.reason);
  }
  for (const leftover of await leftovers(dir, model, dataset, threshold)) {
    await deleteFile(leftover.name, leftover.reason);
  }
  if (deleted.length > 0) await fsyncDir(dir);
  return { deleted };
}

/** The lowest val CER among `valid` (newest first), the newest of equals; null before any validation. */
function bestOf(valid: Scanned[]): Scanned | null {
  let best: Scanned | null = null;
  for (const s of valid) {
    const cer = valCer(s.entry.metrics);
    if (cer !== null && (best === null || cer < valCer(best.entry.metrics)!)) best = s;
  }
  return best;
}

/** Temp files and orphaned sidecars of this model/dataset, modified before `threshold`. */
async function leftovers(
  dir: string,
  model: string,
  dataset: string,
  threshold: number,
): Promise<{ name: string; reason: string }[]> {
  const found: { name: string; reason: string }[] = [];
  for (const name of await readNames(dir)) {
    const isTemp = isTempNameFor(name, model, dataset);
    const orphanOf = checkpointOfSidecarName(name);
    if (!isTemp && orphanOf === null) continue;
    const stats = await lstatOrNull(path.join(dir, name));
    if (stats === null || stats.mtimeMs >= threshold || !(stats.isFile() || stats.isSymbolicLink())) continue;
    if (isTemp) {
      found.push({ name, reason: 'leftover temp file of an interrupted save' });
      continue;
    }
    const parsed = parseCheckpointName(orphanOf!);
    if (parsed === null || parsed.prefix !== pairPrefix(model, dataset)) continue;
    if ((await lstatOrNull(path.join(dir, orphanOf!))) !== null) continue;
    const check = parseSidecar(await readFile(path.join(dir, name), 'utf8').catch(() => ''));
    if (check.ok && (check.sidecar.model_name !== model || check.sidecar.dataset_name !== dataset)) continue;
    found.push({ name, reason: 'sidecar of a checkpoint that no longer exists' });
  }
  return found;
}
