/**
 * The checkpoint folder: naming, listing, resume resolution, commit (sidecar + links), retention and
 * the writer lock. Free of training code: it never parses a `.pt` (the addon writes and reads those);
 * it only knows files, sidecars and names. See ARCHITECTURE.md §5 for the contract.
 */
import { lstat, mkdir, readFile, readdir, readlink, realpath, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { AsrTrainerError } from '../errors.js';
import { fsyncDir, replaceSymlink, sha256File, writeFileAtomic } from './files.js';
import { acquireLock, type CheckpointLock } from './lock.js';
import {
  NAME_PATTERN,
  checkpointName,
  isTempNameFor,
  linkName,
  lockFileName,
  pairPrefix,
  parseCheckpointName,
  sidecarName,
  validateDatasetName,
  validateModelName,
  validatePlainFileName,
  type CheckpointKind,
  type LinkRole,
  type ParsedCheckpointName,
} from './names.js';
import {
  SIDECAR_FORMAT_VERSION,
  parseSidecar,
  serializeSidecar,
  sidecarMismatch,
  valCer,
  type CheckpointMetrics,
  type CheckpointSidecar,
  type ModelConfigRecord,
} from './sidecar.js';

export interface CheckpointLogger {
  info(message: string): void;
  warn(message: string): void;
}

export interface CheckpointStoreOptions {
  /** The checkpoint folder (`paths.checkpoints`); created on the first write. */
  dir: string;
  logger?: CheckpointLogger;
}

/** One row of GET /api/checkpoints, plus what the store knows about its health. */
export interface CheckpointEntry {
  name: string;
  model_name: string;
  dataset_name: string;
  kind: CheckpointKind;
  epoch: number;
  step: number;
  global_step: number | null;
  size_bytes: number;
  /** MiB, two decimals. */
  size_mb: number;
  created_at: string;
  metrics: CheckpointMetrics;
  is_latest: boolean;
  is_best: boolean;
  /**
   * Sidecar present and matching name, size and sha256. The hash is computed once per file version
   * (inode, size, mtime, ctime) and cached by the store, so a listing re-reads only changed files.
   */
  valid: boolean;
  problem?: string;
}

export interface ListFilter {
  model?: string;
  dataset?: string;
}

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
  model_config?: ModelConfigRecord;
  batch_size?: number;
  /** Apply retention right after the commit (what the trainer does after each save). */
  retain?: { keep: number; resumedFrom?: string | null };
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

export interface RetainRequest {
  model: string;
  dataset: string;
  /** `training.checkpoint_retention`: epoch checkpoints kept; 0 keeps every checkpoint. */
  keep: number;
  /** The checkpoint this run resumed from: never deleted. */
  resumedFrom?: string | null;
  /** The checkpoint just committed: never deleted; its mtime dates "older than the running save". */
  current?: string | null;
  /** Leftovers (temp files, `.pt` without sidecar) modified before this are removed; default: `current`'s mtime. */
  olderThan?: Date;
}

interface Scanned {
  entry: CheckpointEntry;
  parsed: ParsedCheckpointName;
  sidecar: CheckpointSidecar | null;
  hasSidecarFile: boolean;
  mtimeMs: number;
}

const MIB = 1024 * 1024;

/** Without an injected logger, warnings (skipped checkpoints, takeovers) still reach stderr. */
const defaultLogger: CheckpointLogger = {
  info: () => undefined,
  warn: (message) => console.warn(message),
};

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

async function lstatOrNull(filePath: string): Promise<Stats | null> {
  try {
    return await lstat(filePath);
  } catch (error) {
    if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return null;
    throw error;
  }
}

async function readlinkOrNull(filePath: string): Promise<string | null> {
  try {
    return await readlink(filePath);
  } catch (error) {
    if (errno(error) === 'ENOENT' || errno(error) === 'EINVAL') return null;
    throw error;
  }
}

/** Newest first: by epoch, an epoch's end after its step saves, step, then global step, then mtime. */
function compareNewestFirst(a: Scanned, b: Scanned): number {
  const key = (s: Scanned): number[] => [
    s.parsed.epoch,
    s.parsed.kind === 'epoch' ? 1 : 0,
    s.parsed.nameStep ?? 0,
    s.sidecar?.global_step ?? -1,
    s.mtimeMs,
  ];
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < ka.length; i += 1) {
    if (ka[i] !== kb[i]) return kb[i]! - ka[i]!;
  }
  return a.entry.name < b.entry.name ? -1 : a.entry.name > b.entry.name ? 1 : 0;
}

export class CheckpointStore {
  readonly dir: string;
  private readonly logger: CheckpointLogger;
  /** hashProblemCached(): file version → the hash verdict (null: matches). */
  private readonly hashVerdicts = new Map<string, string | null>();

  constructor(options: CheckpointStoreOptions) {
    if (typeof options.dir !== 'string' || options.dir.length === 0) {
      throw new AsrTrainerError('E_INVALID_ARGUMENT', 'CheckpointStore needs the checkpoint folder (paths.checkpoints)');
    }
    this.dir = path.resolve(options.dir);
    this.logger = options.logger ?? defaultLogger;
  }

  checkpointName(model: string, dataset: string, epoch: number, step?: number | null): string {
    return checkpointName(model, dataset, epoch, step);
  }

  /** Absolute path of a plain file name in the folder; anything else is E_INVALID_ARGUMENT. */
  pathOf(name: string): string {
    return path.join(this.dir, validatePlainFileName(name));
  }

  /**
   * Every checkpoint of the folder (or of one model and/or dataset), newest first. A file whose bytes
   * no longer match its sidecar's sha256 (flipped or zeroed in place, same size) is listed invalid:
   * hashed once per file version, see hashProblemCached().
   */
  async list(filter: ListFilter = {}): Promise<CheckpointEntry[]> {
    if (filter.model !== undefined) validateModelName(filter.model);
    if (filter.dataset !== undefined) validateDatasetName(filter.dataset);
    const scanned = await this.scan(filter);
    for (const s of scanned) {
      if (!s.entry.valid) continue;
      const problem = await this.hashProblemCached(s);
      if (problem !== null) {
        s.entry.valid = false;
        s.entry.problem = problem;
        s.sidecar = null;
      }
    }
    // Group by model/dataset (a newest-first order only means something inside one run's checkpoints),
    // then put the group with the most recent checkpoint first.
    const groups = new Map<string, Scanned[]>();
    for (const s of scanned) {
      const key = `${s.entry.model_name}\u0000${s.entry.dataset_name}`;
      const group = groups.get(key) ?? [];
      group.push(s);
      groups.set(key, group);
    }
    const ordered = [...groups.values()].map((group) => group.sort(compareNewestFirst));
    const newestTime = (group: Scanned[]): number => Math.max(...group.map((s) => Date.parse(s.entry.created_at)));
    ordered.sort((a, b) => newestTime(b) - newestTime(a));
    return ordered.flat().map((s) => s.entry);
  }

  /**
   * The checkpoint a run resumes from. A named one must be a valid checkpoint of this model and
   * dataset; otherwise the newest valid one, skipping (with a warning) any without a valid sidecar or
   * whose sha256 differs.
   */
  async resolveForResume(request: ResolveRequest): Promise<ResolvedCheckpoint> {
    const model = validateModelName(request.model);
    const dataset = validateDatasetName(request.dataset);
    const resolved =
      request.specific !== undefined && request.specific !== null
        ? await this.resolveSpecific(model, dataset, request.specific)
        : await this.resolveLatest(model, dataset);
    this.logger.info(`Resuming from checkpoint '${resolved.name}' (epoch ${resolved.sidecar.epoch}, step ${resolved.sidecar.step})`);
    return resolved;
  }

  private async resolveLatest(model: string, dataset: string): Promise<ResolvedCheckpoint> {
    const warnings: string[] = [];
    // The newest checkpoint is found by scanning, never through the latest link; a broken link is
    // still worth a warning, since it was left by something other than a clean commit.
    const brokenLink = await this.brokenLatestLink(model, dataset);
    if (brokenLink !== null) {
      this.logger.warn(brokenLink);
      warnings.push(brokenLink);
    }
    for (const s of await this.scanPair(model, dataset)) {
      const problem = s.entry.problem ?? (await this.hashProblem(s));
      if (problem === null) {
        return { name: s.entry.name, path: path.join(this.dir, s.entry.name), sidecar: s.sidecar!, warnings };
      }
      const warning = `Skipping checkpoint '${s.entry.name}': ${problem}; falling back to an older checkpoint`;
      this.logger.warn(warning);
      warnings.push(warning);
    }
    throw new AsrTrainerError(
      'E_NO_CHECKPOINT',
      `No checkpoint found for model '${model}' and dataset '${dataset}'`,
      { model_name: model, dataset_name: dataset },
    );
  }

  /** A warning when `…-latest.pt` exists but leads nowhere or out of the folder; null when it is fine or absent. */
  private async brokenLatestLink(model: string, dataset: string): Promise<string | null> {
    const link = linkName(model, dataset, 'latest');
    const problem = await this.linkProblem(link);
    return problem === null ? null : `Ignoring link '${link}': ${problem}; resuming the newest valid checkpoint instead`;
  }

  /** Why a link of the folder cannot be followed (dangling, or leading out of the folder); null when it can or is absent. */
  private async linkProblem(link: string): Promise<string | null> {
    const target = await readlinkOrNull(path.join(this.dir, link));
    if (target === null) return null;
    let real: string;
    try {
      real = await realpath(path.join(this.dir, link));
    } catch {
      return `it points at '${target}', which does not exist`;
    }
    if (path.dirname(real) !== (await realpath(this.dir))) return `it points at '${target}', outside the checkpoint folder`;
    return null;
  }

  /**
   * The `…-latest.pt` and `…-best.pt` links that cannot be followed (GET /api/checkpoints shows them
   * beside the checkpoints): resume never follows them, but they mean something other than a clean
   * commit touched the folder.
   */
  async brokenLinks(filter: ListFilter = {}): Promise<Array<{ name: string; target: string; problem: string }>> {
    if (filter.model !== undefined) validateModelName(filter.model);
    if (filter.dataset !== undefined) validateDatasetName(filter.dataset);
    const out: Array<{ name: string; target: string; problem: string }> = [];
    for (const name of await this.readNames()) {
      const match = /^(.+)-(latest|best)\.pt$/.exec(name);
      if (!match) continue;
      const prefix = match[1]!;
      if (filter.model !== undefined && !prefix.startsWith(`${filter.model}-`)) continue;
      if (filter.dataset !== undefined && !prefix.endsWith(`-${filter.dataset}`)) continue;
      const problem = await this.linkProblem(name);
      if (problem !== null) out.push({ name, target: (await readlinkOrNull(path.join(this.dir, name))) ?? '', problem });
    }
    return out;
  }

  /**
   * Marks a `.pt` the addon has written as done: writes its sidecar atomically, moves the latest and
   * best links, and applies retention when asked.
   */
  async commit(request: CommitRequest): Promise<CommitResult> {
    const model = validateModelName(request.model);
    const dataset = validateDatasetName(request.dataset);
    const name = validatePlainFileName(request.name);
    const parsed = parseCheckpointName(name);
    if (parsed === null || parsed.prefix !== `${model}-${dataset}`) {
      throw new AsrTrainerError(
        'E_INVALID_ARGUMENT',
        `'${name}' is not a checkpoint name of model '${model}' and dataset '${dataset}'; make it with checkpointName()`,
      );
    }
    for (const key of ['step', 'global_step'] as const) {
      const value = request[key];
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new AsrTrainerError('E_INVALID_ARGUMENT', `commit: ${key} must be a non-negative integer, got ${String(value)}`);
      }
    }
    if (request.retain) validateRetention(request.retain.keep);
    await this.assertNoNameCollision(model, dataset);
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
      ...(request.model_config !== undefined ? { model_config: request.model_config } : {}),
      ...(request.batch_size !== undefined ? { batch_size: request.batch_size } : {}),
    };
    // A sidecar this store could not read back would silently turn a good save into a skipped one.
    const check = parseSidecar(serializeSidecar(sidecar));
    if (!check.ok) throw new AsrTrainerError('E_INVALID_ARGUMENT', `Cannot commit checkpoint '${name}': ${check.problem}`);
    await writeFileAtomic(path.join(this.dir, sidecarName(name)), serializeSidecar(sidecar));
    this.logger.info(`Saved checkpoint '${name}' (${(size / MIB).toFixed(2)} MB)`);

    const links = await this.updateLinks(model, dataset, { name, sha256 });
    const deleted = request.retain
      ? (
          await this.retain({
            model,
            dataset,
            keep: request.retain.keep,
            resumedFrom: request.retain.resumedFrom ?? null,
            current: name,
          })
        ).deleted
      : [];
    return { name, path: ptPath, sidecar, ...links, deleted };
  }

  /**
   * Deletes what retention no longer needs: epoch checkpoints beyond the newest `keep`, step
   * checkpoints a later epoch checkpoint supersedes, and leftovers older than the running save. Never
   * the best, the newest, the resumed-from or the current checkpoint, nor a link target, nor anything
   * of another model/dataset. `keep: 0` deletes no checkpoint (leftovers still go).
   */
  async retain(request: RetainRequest): Promise<{ deleted: string[] }> {
    const model = validateModelName(request.model);
    const dataset = validateDatasetName(request.dataset);
    const keep = validateRetention(request.keep);
    const resumedFrom = request.resumedFrom != null ? validatePlainFileName(request.resumedFrom) : null;
    const current = request.current != null ? validatePlainFileName(request.current) : null;

    const scanned = await this.scanPair(model, dataset);
    const valid = scanned.filter((s) => s.entry.valid);
    const protectedNames = new Set<string>();
    for (const name of [resumedFrom, current, valid[0]?.entry.name, this.bestOf(valid)?.entry.name]) {
      if (name) protectedNames.add(name);
    }
    for (const role of ['latest', 'best'] as const) {
      const target = await readlinkOrNull(path.join(this.dir, linkName(model, dataset, role)));
      if (target !== null) protectedNames.add(target);
    }

    let threshold = request.olderThan?.getTime();
    if (threshold === undefined) {
      const currentStats = current ? await lstatOrNull(path.join(this.dir, current)) : null;
      threshold = currentStats?.mtimeMs ?? Date.now();
    }

    const doomed: { name: string; reason: string; withSidecar: boolean }[] = [];
    if (keep > 0) {
      const epochs = scanned.filter((s) => s.parsed.kind === 'epoch' && s.hasSidecarFile);
      for (const s of epochs.slice(keep)) {
        doomed.push({ name: s.entry.name, reason: `beyond checkpoint_retention ${keep}`, withSidecar: true });
      }
      for (const s of scanned.filter((x) => x.parsed.kind === 'step' && x.hasSidecarFile)) {
        const later = valid.find((v) => v.parsed.kind === 'epoch' && v.parsed.epoch >= s.parsed.epoch);
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
    for (const item of doomed) {
      if (protectedNames.has(item.name)) continue;
      // The sidecar (the done marker) goes first: a crash in between leaves an incomplete .pt, never a
      // sidecar vouching for a missing file.
      if (item.withSidecar) await this.deleteFile(sidecarName(item.name), item.reason, deleted);
      await this.deleteFile(item.name, item.reason, deleted);
    }
    for (const leftover of await this.leftovers(model, dataset, threshold)) {
      await this.deleteFile(leftover.name, leftover.reason, deleted);
    }
    if (deleted.length > 0) await fsyncDir(this.dir);
    return { deleted };
  }

  /** The one-writer lock of a model/dataset in this folder; a live owner → E_LOCKED. */
  async acquireLock(model: string, dataset: string): Promise<CheckpointLock> {
    validateModelName(model);
    validateDatasetName(dataset);
    await mkdir(this.dir, { recursive: true });
    await this.assertNoNameCollision(model, dataset);
    return acquireLock({
      dir: this.dir,
      fileName: lockFileName(model, dataset),
      model,
      dataset,
      onTakeover: (previous, reason) =>
        this.logger.warn(
          `Took over the checkpoint lock of model '${model}' and dataset '${dataset}' from process ${previous.pid} (${reason})`,
        ),
    });
  }

  private async resolveSpecific(model: string, dataset: string, specific: string): Promise<ResolvedCheckpoint> {
    const requested = validatePlainFileName(specific);
    const notFound = (): AsrTrainerError =>
      new AsrTrainerError('E_CHECKPOINT_NOT_FOUND', `Specified checkpoint '${requested}' not found`, {
        checkpoint: requested,
      });
    // A name given without its extension ("…-epoch-3") is accepted too.
    const candidates = requested.endsWith('.pt') ? [requested] : [requested, `${requested}.pt`];
    let found: { name: string; stats: Stats } | null = null;
    for (const candidate of candidates) {
      if (Buffer.byteLength(candidate) > 255) continue;
      const stats = await lstatOrNull(path.join(this.dir, candidate));
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
      const target = (await readlinkOrNull(path.join(this.dir, name))) ?? '?';
      let real: string;
      try {
        real = await realpath(path.join(this.dir, name));
      } catch {
        throw damaged(`it is a link to '${target}', which does not exist; name a checkpoint from GET /api/checkpoints`);
      }
      const realDir = await realpath(this.dir);
      if (path.dirname(real) !== realDir) {
        throw damaged(`it is a link to '${target}', outside the checkpoint folder '${this.dir}'; name a checkpoint from GET /api/checkpoints`);
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
    const scanned = await this.scanOne(name, parsed, found.stats, { model, dataset });
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
    const problem = scanned.entry.problem ?? (await this.hashProblem(scanned));
    if (problem !== null) {
      throw new AsrTrainerError('E_CHECKPOINT_CORRUPT', `Checkpoint '${name}' cannot be resumed: ${problem}`, {
        checkpoint: name,
        problem,
      });
    }
    return { name, path: path.join(this.dir, name), sidecar: scanned.sidecar!, warnings: [] };
  }

  /** Points `latest` at the newest valid checkpoint and `best` at the lowest val CER, hashing any target not just hashed. */
  private async updateLinks(
    model: string,
    dataset: string,
    verified: { name: string; sha256: string },
  ): Promise<{ latest: string | null; best: string | null }> {
    const valid = (await this.scanPair(model, dataset)).filter((s) => s.entry.valid);
    const verify = async (s: Scanned): Promise<boolean> => {
      if (s.entry.name === verified.name && s.sidecar?.sha256 === verified.sha256) return true;
      const problem = await this.hashProblem(s);
      if (problem !== null) this.logger.warn(`Checkpoint '${s.entry.name}' is not linked: ${problem}`);
      return problem === null;
    };
    const pick = async (ranked: Scanned[]): Promise<Scanned | null> => {
      for (const s of ranked) if (await verify(s)) return s;
      return null;
    };
    const latest = await pick(valid);
    const ranked = valid
      .filter((s) => valCer(s.entry.metrics) !== null)
      .sort((a, b) => valCer(a.entry.metrics)! - valCer(b.entry.metrics)! || compareNewestFirst(a, b));
    const best = await pick(ranked);
    return {
      latest: await this.pointLink(model, dataset, 'latest', latest?.entry.name ?? null),
      best: await this.pointLink(model, dataset, 'best', best?.entry.name ?? null),
    };
  }

  private async pointLink(model: string, dataset: string, role: LinkRole, target: string | null): Promise<string | null> {
    const linkPath = path.join(this.dir, linkName(model, dataset, role));
    const current = await readlinkOrNull(linkPath);
    if (target === null) {
      // No valid target: a link to a file that is gone or invalid must not stay.
      if (current !== null) {
        await unlink(linkPath);
        await fsyncDir(this.dir);
      }
      return null;
    }
    if (current !== target) await replaceSymlink(linkPath, target);
    return target;
  }

  private bestOf(valid: Scanned[]): Scanned | null {
    let best: Scanned | null = null;
    for (const s of valid) {
      const cer = valCer(s.entry.metrics);
      if (cer !== null && (best === null || cer < valCer(best.entry.metrics)!)) best = s;
    }
    return best;
  }

  private async deleteFile(name: string, reason: string, deleted: string[]): Promise<void> {
    try {
      await unlink(path.join(this.dir, name));
    } catch (error) {
      if (errno(error) === 'ENOENT') return;
      throw error;
    }
    deleted.push(name);
    this.logger.info(`Deleted '${name}' from '${this.dir}': ${reason}`);
  }

  /** Temp files and orphaned sidecars of this model/dataset, modified before `threshold`. */
  private async leftovers(model: string, dataset: string, threshold: number): Promise<{ name: string; reason: string }[]> {
    const found: { name: string; reason: string }[] = [];
    for (const name of await this.readNames()) {
      const isTemp = isTempNameFor(name, model, dataset);
      const orphanOf = name.endsWith('.pt.json') ? name.slice(0, -'.json'.length) : null;
      if (!isTemp && orphanOf === null) continue;
      const stats = await lstatOrNull(path.join(this.dir, name));
      if (stats === null || stats.mtimeMs >= threshold || !(stats.isFile() || stats.isSymbolicLink())) continue;
      if (isTemp) {
        found.push({ name, reason: 'leftover temp file of an interrupted save' });
        continue;
      }
      const parsed = parseCheckpointName(orphanOf!);
      if (parsed === null || parsed.prefix !== `${model}-${dataset}`) continue;
      if ((await lstatOrNull(path.join(this.dir, orphanOf!))) !== null) continue;
      const check = parseSidecar(await readFile(path.join(this.dir, name), 'utf8').catch(() => ''));
      if (check.ok && (check.sidecar.model_name !== model || check.sidecar.dataset_name !== dataset)) continue;
      found.push({ name, reason: 'sidecar of a checkpoint that no longer exists' });
    }
    return found;
  }

  /**
   * Names are `{model}-{dataset}-…`, so model 'a' with dataset 'b-c' and model 'a-b' with dataset 'c'
   * would write the same files. Refused as soon as the folder shows both.
   */
  private async assertNoNameCollision(model: string, dataset: string): Promise<void> {
    const prefix = pairPrefix(model, dataset);
    for (const name of await this.readNames()) {
      if (!name.endsWith('.pt.json')) continue;
      const parsed = parseCheckpointName(name.slice(0, -'.json'.length));
      if (parsed === null || parsed.prefix !== prefix) continue;
      const check = parseSidecar(await readFile(path.join(this.dir, name), 'utf8').catch(() => ''));
      if (!check.ok) continue;
      const other = check.sidecar;
      // A sidecar copied or renamed onto another file (its own name or pair differs from the file's) is
      // a damaged checkpoint, which listing flags and resume skips; it must not lock the pair out.
      if (`${other.name}.json` !== name || `${other.model_name}-${other.dataset_name}` !== prefix) continue;
      if (other.model_name !== model || other.dataset_name !== dataset) {
        throw new AsrTrainerError(
          'E_INVALID_ARGUMENT',
          `Model '${model}' with dataset '${dataset}' would share checkpoint file names with model '${other.model_name}' and dataset '${other.dataset_name}' ('${name}'); rename the model or the dataset in config.yaml`,
        );
      }
    }
  }

  private async readNames(): Promise<string[]> {
    try {
      return await readdir(this.dir);
    } catch (error) {
      if (errno(error) === 'ENOENT') return [];
      throw error;
    }
  }

  private async scanPair(model: string, dataset: string): Promise<Scanned[]> {
    return (await this.scan({ model, dataset })).sort(compareNewestFirst);
  }

  /** Reads every regular `*.pt` of the filter and its sidecar; links and other files are passed over. */
  private async scan(filter: ListFilter): Promise<Scanned[]> {
    const out: Scanned[] = [];
    for (const name of await this.readNames()) {
      const parsed = parseCheckpointName(name);
      if (parsed === null) continue;
      const stats = await lstatOrNull(path.join(this.dir, name));
      if (stats === null || !stats.isFile()) continue;
      const scanned = await this.scanOne(name, parsed, stats, filter);
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
      for (const role of ['latest', 'best'] as const) {
        const target = await readlinkOrNull(path.join(this.dir, `${s.parsed.prefix}-${role}.pt`));
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

  /** Null when the name cannot belong to the filter's model/dataset. */
  private async scanOne(
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
      text = await readFile(path.join(this.dir, sidecarName(name)), 'utf8');
    } catch (error) {
      if (errno(error) !== 'ENOENT') throw error;
      hasSidecarFile = false;
      problem = 'no sidecar: the save did not finish';
    }
    if (text !== null) {
      const check = parseSidecar(text);
      if (check.ok) {
        sidecar = check.sidecar;
        if (`${sidecar.model_name}-${sidecar.dataset_name}` !== parsed.prefix) {
          problem = `sidecar names model '${sidecar.model_name}' and dataset '${sidecar.dataset_name}', which do not match the file name`;
          sidecar = null;
        } else {
          problem = sidecarMismatch(sidecar, { name, size: stats.size, epoch: parsed.epoch, kind: parsed.kind }) ?? undefined;
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
      size_bytes: stats.size,
      size_mb: Math.round((stats.size / MIB) * 100) / 100,
      created_at: sidecar?.created_at ?? stats.mtime.toISOString(),
      metrics: sidecar?.metrics ?? {},
      is_latest: false,
      is_best: false,
      valid: problem === undefined,
      ...(problem !== undefined ? { problem } : {}),
    };
    return { entry, parsed, sidecar: problem === undefined ? sidecar : null, hasSidecarFile, mtimeMs: stats.mtimeMs };
  }

  /**
   * hashProblem() remembered per file version: the key holds the inode, size, mtime and ctime, so any
   * write or replacement (which moves ctime) is hashed again; the sidecar's sha256 is part of the key.
   */
  private async hashProblemCached(s: Scanned): Promise<string | null> {
    const stats = await lstatOrNull(path.join(this.dir, s.entry.name));
    if (stats === null) return 'the file disappeared while listing';
    const key = [s.entry.name, stats.ino, stats.size, stats.mtimeMs, stats.ctimeMs, s.sidecar?.sha256 ?? ''].join('\u0000');
    const known = this.hashVerdicts.get(key);
    if (known !== undefined) return known;
    const problem = await this.hashProblem(s);
    // Bounded: a long-running server lists the folder many times; stale keys are simply dropped.
    if (this.hashVerdicts.size >= 4096) this.hashVerdicts.clear();
    this.hashVerdicts.set(key, problem);
    return problem;
  }

  /** Streams the file and compares with the sidecar; the problem in words, or null when it matches. */
  private async hashProblem(s: Scanned): Promise<string | null> {
    if (s.sidecar === null) return s.entry.problem ?? 'no valid sidecar';
    let actual: { sha256: string; size: number };
    try {
      actual = await sha256File(path.join(this.dir, s.entry.name));
    } catch (error) {
      return `cannot be read (${(error as Error).message})`;
    }
    if (actual.size !== s.sidecar.size) return `file is ${actual.size} bytes but its sidecar recorded ${s.sidecar.size}`;
    if (actual.sha256 !== s.sidecar.sha256) return 'sha256 differs from its sidecar (the file changed or was damaged after saving)';
    return null;
  }
}

function validateRetention(keep: unknown): number {
  if (typeof keep !== 'number' || !Number.isSafeInteger(keep) || keep < 0) {
    throw new AsrTrainerError(
      'E_INVALID_ARGUMENT',
      `checkpoint_retention must be a non-negative integer (0 keeps every checkpoint), got ${String(keep)}`,
    );
  }
  return keep;
}

/**
 * Which model and dataset a name without a usable sidecar belongs to. With a filter the split is
 * the filter's; without one, model names are taken to hold no '-' (dataset names often do).
 */
function splitPrefix(prefix: string, filter: ListFilter): { model: string; dataset: string } | null {
  if (filter.model !== undefined) {
    if (!prefix.startsWith(`${filter.model}-`)) return null;
    const dataset = prefix.slice(filter.model.length + 1);
    return NAME_PATTERN.test(dataset) ? { model: filter.model, dataset } : null;
  }
  if (filter.dataset !== undefined) {
    if (!prefix.endsWith(`-${filter.dataset}`)) return null;
    const model = prefix.slice(0, prefix.length - filter.dataset.length - 1);
    return NAME_PATTERN.test(model) ? { model, dataset: filter.dataset } : null;
  }
  const dash = prefix.indexOf('-');
  if (dash <= 0) return null;
  const model = prefix.slice(0, dash);
  const dataset = prefix.slice(dash + 1);
  return NAME_PATTERN.test(model) && NAME_PATTERN.test(dataset) ? { model, dataset } : null;
}
