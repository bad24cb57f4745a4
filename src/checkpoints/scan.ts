/**
 * Listing the folder: every regular `*.pt` with its sidecar read and checked by name and size (no
 * hashing: see verify.ts), which links point at it, and the newest-first order.
 */
import type { Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errno, lstatOrNull, readNames, readlinkOrNull } from './files.js';
import {
  LINK_ROLES,
  linkNameOfPrefix,
  parseCheckpointName,
  pinName,
  prefixOf,
  sidecarName,
  validateDatasetName,
  validateModelName,
  type ParsedCheckpointName,
} from './names.js';
import { isValidName, type CheckpointEntry } from '../contract/index.js';
import { parseSidecar, sidecarMismatch, type CheckpointSidecar } from './sidecar.js';
import { readTestScores } from './test-scores.js';

export interface ListFilter {
  model?: string;
  dataset?: string;
}

/** A listed checkpoint with what resume, links and retention need beyond the row. */
export interface Scanned {
  /**
   * The row of GET /api/checkpoints (src/contract/checkpoints.ts). `valid` means the sidecar is present and
   * matches name, size and sha256; the hash is computed once per file version (inode, size, mtime, ctime)
   * and cached by the store, so a listing re-reads only changed files. `pinned`: a `NAME.pt.pin` marker
   * keeps it out of retention (pins.ts); `test`: its figures on the test splits (test-scores.ts).
   */
  entry: CheckpointEntry;
  parsed: ParsedCheckpointName;
  /** Null unless the sidecar is present and describes this file. */
  sidecar: CheckpointSidecar | null;
  hasSidecarFile: boolean;
  mtimeMs: number;
}

export const MIB = 1024 * 1024;

/** A filter's names must be valid names: E_INVALID_ARGUMENT otherwise. */
export function validateFilter(filter: ListFilter): void {
  if (filter.model !== undefined) validateModelName(filter.model);
  if (filter.dataset !== undefined) validateDatasetName(filter.dataset);
}

/**
 * Position inside one run: epoch, an epoch's end after its step saves, step, global step, version,
 * mtime; the larger is the later save.
 */
function comparePosition(a: Scanned, b: Scanned): number {
  const key = (s: Scanned): number[] => [
    s.parsed.epoch,
    s.parsed.kind === 'epoch' ? 1 : 0,
    s.parsed.nameStep ?? 0,
    s.sidecar?.global_step ?? -1,
    s.parsed.version,
    s.mtimeMs,
  ];
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < ka.length; i += 1) {
    if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
  }
  return 0;
}

/** How far a file's time may lag the clock Date.now reads (kernel timestamps tick at 1-10 ms). */
const FILE_CLOCK_SLACK_MS = 20;

/**
 * Newest first, the meaning of `latest` once timelines branch (a resume from an older checkpoint
 * starts a second timeline beside the first): the runs ordered by their most recent commit, the most
 * recent run first, and inside a run the furthest-trained save first. So the first valid entry is the
 * most recently committed checkpoint of the most recent run: what auto-resume continues from, what
 * the `latest` link names and what retention counts from. Inside one run this is the old order (by
 * position), since a run only moves forward. A `.pt` without a sidecar belongs to no run and is placed
 * by its file time.
 */
export function orderNewestFirst(scanned: Scanned[]): Scanned[] {
  const runOf = (s: Scanned): string => s.entry.run_id ?? `\u0000${s.entry.name}`;
  // A run's last commit: the sidecar's created_at (survives copies of the folder), then the file time
  // for two commits within one millisecond.
  const lastCommit = new Map<string, [number, number]>();
  for (const s of scanned) {
    const created = Date.parse(s.entry.created_at);
    const time: [number, number] = [Number.isNaN(created) ? s.mtimeMs : created, s.mtimeMs];
    const known = lastCommit.get(runOf(s));
    if (known === undefined || time[0] > known[0] || (time[0] === known[0] && time[1] > known[1]))
      lastCommit.set(runOf(s), time);
  }
  const isOrphan = (run: string): boolean => run.startsWith('\u0000');
  return [...scanned].sort((a, b) => {
    const ra = runOf(a);
    const rb = runOf(b);
    if (ra !== rb) {
      const [ta, tb] = [lastCommit.get(ra)!, lastCommit.get(rb)!];
      if (isOrphan(ra) !== isOrphan(rb)) {
        // A file of no run against a run's last commit: the kernel stamps files from a coarser clock than
        // Date.now, so a file written just after a commit can carry an earlier time than its created_at.
        // Within that slack the file of no run counts as the newer one (it can only have come later).
        const [orphan, run] = isOrphan(ra) ? [ta, tb] : [tb, ta];
        const orphanNewer = orphan[0] >= run[0] - FILE_CLOCK_SLACK_MS;
        return orphanNewer === isOrphan(ra) ? -1 : 1;
      }
      return tb[0] - ta[0] || tb[1] - ta[1] || (ra < rb ? -1 : 1);
    }
    return comparePosition(b, a) || (a.entry.name < b.entry.name ? -1 : a.entry.name > b.entry.name ? 1 : 0);
  });
}

/**
 * The listing's order: grouped by model/dataset (a newest-first order only means something inside one
 * run's checkpoints), newest first inside a group, the group with the most recent checkpoint first.
 */
export function orderForListing(scanned: Scanned[]): Scanned[] {
  const groups = new Map<string, Scanned[]>();
  for (const s of scanned) {
    const key = `${s.entry.model_name}\u0000${s.entry.dataset_name}`;
    const group = groups.get(key) ?? [];
    group.push(s);
    groups.set(key, group);
  }
  const ordered = [...groups.values()].map(orderNewestFirst);
  const newestTime = (group: Scanned[]): number => Math.max(...group.map((s) => Date.parse(s.entry.created_at)));
  ordered.sort((a, b) => newestTime(b) - newestTime(a));
  return ordered.flat();
}

/**
 * Whether a checkpoint is a training save (epoch or step), not an average. "The newest checkpoint" (the
 * `latest` link, auto-resume, the one retention always keeps) means the newest training save: an average
 * continues no run by itself, and resuming one restarts the optimizer's moments, so it is resumed only when
 * asked for by name.
 */
export function isTrainingSave(s: Scanned): boolean {
  return s.parsed.kind !== 'average';
}

/** One model/dataset's checkpoints, newest first (orderNewestFirst()). */
export async function scanPair(dir: string, model: string, dataset: string): Promise<Scanned[]> {
  return orderNewestFirst(await scanFolder(dir, { model, dataset }));
}

/** Reads every regular `*.pt` of the filter and its sidecar; links and other files are passed over. */
export async function scanFolder(dir: string, filter: ListFilter): Promise<Scanned[]> {
  const out: Scanned[] = [];
  for (const name of await readNames(dir)) {
    const parsed = parseCheckpointName(name);
    if (parsed === null) continue;
    const stats = await lstatOrNull(path.join(dir, name));
    if (stats === null || !stats.isFile()) continue;
    const scanned = await scanOne(dir, name, parsed, stats, filter);
    if (scanned === null) continue;
    if (filter.model !== undefined && scanned.entry.model_name !== filter.model) continue;
    if (filter.dataset !== undefined && scanned.entry.dataset_name !== filter.dataset) continue;
    out.push(scanned);
  }
  const linkTargets = new Map<string, Set<string>>();
  for (const s of out) {
    const key = `${s.entry.model_name}\u0000${s.entry.dataset_name}`;
    if (linkTargets.has(key)) continue;
    const targets = new Set<string>();
    for (const role of LINK_ROLES) {
      const target = await readlinkOrNull(path.join(dir, linkNameOfPrefix(s.parsed.prefix, role)));
      if (target !== null) targets.add(`${role}:${target}`);
    }
    linkTargets.set(key, targets);
  }
  for (const s of out) {
    const targets = linkTargets.get(`${s.entry.model_name}\u0000${s.entry.dataset_name}`)!;
    s.entry.is_latest = targets.has(`latest:${s.entry.name}`);
    s.entry.is_best = targets.has(`best:${s.entry.name}`);
  }
  return out;
}

/** One `.pt` and its sidecar; null when the name cannot belong to the filter's model/dataset. */
export async function scanOne(
  dir: string,
  name: string,
  parsed: ParsedCheckpointName,
  stats: Stats,
  filter: ListFilter = {},
): Promise<Scanned | null> {
  let sidecar: CheckpointSidecar | null = null;
  let hasSidecarFile = true;
  let problem: string | undefined;
  let text: string | null = null;
  try {
    text = await readFile(path.join(dir, sidecarName(name)), 'utf8');
  } catch (error) {
    if (errno(error) !== 'ENOENT') throw error;
    hasSidecarFile = false;
    problem = 'no sidecar: the save did not finish';
  }
  if (text !== null) {
    const check = parseSidecar(text);
    if (check.ok) {
      sidecar = check.sidecar;
      if (prefixOf(sidecar.model_name, sidecar.dataset_name) !== parsed.prefix) {
        problem = `sidecar names model '${sidecar.model_name}' and dataset '${sidecar.dataset_name}', which do not match the file name`;
        sidecar = null;
      } else {
        problem =
          sidecarMismatch(sidecar, { name, size: stats.size, epoch: parsed.epoch, kind: parsed.kind }) ?? undefined;
      }
    } else {
      problem = check.problem;
    }
  }
  const pair = sidecar
    ? { model: sidecar.model_name, dataset: sidecar.dataset_name }
    : splitPrefix(parsed.prefix, filter);
  if (pair === null) return null;
  const entry: CheckpointEntry = {
    name,
    model_name: pair.model,
    dataset_name: pair.dataset,
    kind: parsed.kind,
    epoch: parsed.epoch,
    step: sidecar?.step ?? parsed.nameStep ?? 0,
    global_step: sidecar?.global_step ?? null,
    size_mb: Math.round((stats.size / MIB) * 100) / 100,
    created_at: sidecar?.created_at ?? stats.mtime.toISOString(),
    metrics: sidecar?.metrics ?? {},
    is_latest: false,
    is_best: false,
    run_id: sidecar?.run_id ?? null,
    resumed_from: sidecar?.resumed_from ?? null,
    pinned: (await lstatOrNull(path.join(dir, pinName(name)))) !== null,
    valid: problem === undefined,
    ...(problem !== undefined ? { problem } : {}),
    ...(sidecar?.averaged_from !== undefined ? { averaged_from: sidecar.averaged_from } : {}),
  };
  const test = await readTestScores(dir, name);
  if (test !== undefined) entry.test = test;
  return { entry, parsed, sidecar: problem === undefined ? sidecar : null, hasSidecarFile, mtimeMs: stats.mtimeMs };
}

/**
 * Which model and dataset a name without a usable sidecar belongs to. With a filter the split is
 * the filter's; without one, model names are taken to hold no '-' (dataset names often do).
 */
function splitPrefix(prefix: string, filter: ListFilter): { model: string; dataset: string } | null {
  if (filter.model !== undefined) {
    if (!prefix.startsWith(`${filter.model}-`)) return null;
    const dataset = prefix.slice(filter.model.length + 1);
    return isValidName(dataset) ? { model: filter.model, dataset } : null;
  }
  if (filter.dataset !== undefined) {
    if (!prefix.endsWith(`-${filter.dataset}`)) return null;
    const model = prefix.slice(0, prefix.length - filter.dataset.length - 1);
    return isValidName(model) ? { model, dataset: filter.dataset } : null;
  }
  const dash = prefix.indexOf('-');
  if (dash <= 0) return null;
  const model = prefix.slice(0, dash);
  const dataset = prefix.slice(dash + 1);
  return isValidName(model) && isValidName(dataset) ? { model, dataset } : null;
}
