/**
 * Checkpoint file names (docs/architecture.md §3): the only place that turns a model, a dataset and a
 * position into a file name, and a file name back into them.
 */
import { MAX_CHECKPOINT_NAME_BYTES, NAME_RULE, isValidName } from '../contract/names.js';
import { AsrTrainerError } from '../errors.js';

/** `average`: the mean of epoch checkpoints' weights (averageCheckpointName()), never a training save. */
export type CheckpointKind = 'epoch' | 'step' | 'average';

export interface ParsedCheckpointName {
  /** `{model}-{dataset}`; which split is meant is only known from the sidecar or the caller. */
  prefix: string;
  /** The epoch it ends (for an average: its last input's, whose position it carries). */
  epoch: number;
  /** An average only: the epoch of its first input. */
  firstEpoch?: number;
  /** The `-step-{S}` part of a mid-epoch checkpoint; null for an epoch checkpoint. */
  nameStep: number | null;
  kind: CheckpointKind;
  /**
   * 1 for the first checkpoint of a position; N for `…-vN.pt`, the N-th one saved at that position
   * after a resume from an older checkpoint retrained it (a committed checkpoint is never overwritten).
   */
  version: number;
}

const CHECKPOINT_NAME = /^(.+)-epoch-(0|[1-9][0-9]*)(?:-step-(0|[1-9][0-9]*))?(?:-v([2-9]|[1-9][0-9]+))?\.pt$/;
/** No name matches both: this one ends in `-avg-F-L`, the other in `-epoch-N` or `-step-S` (before `-vN`). */
const AVERAGE_NAME = /^(.+)-avg-(0|[1-9][0-9]*)-(0|[1-9][0-9]*)(?:-v([2-9]|[1-9][0-9]+))?\.pt$/;

export function validateModelName(model: unknown): string {
  return validateName(model, 'model');
}

export function validateDatasetName(dataset: unknown): string {
  return validateName(dataset, 'dataset');
}

/** The contract's name rule (src/contract/names.ts), as an error for the caller who broke it. */
function validateName(value: unknown, what: 'model' | 'dataset'): string {
  if (typeof value !== 'string' || !isValidName(value)) {
    const shown = typeof value === 'string' ? `'${value.slice(0, 60)}'` : String(typeof value);
    throw new AsrTrainerError('E_INVALID_ARGUMENT', `Invalid ${what} name ${shown}: use ${NAME_RULE}`, {
      [what]: value,
    });
  }
  return value;
}

function validateCount(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new AsrTrainerError('E_INVALID_ARGUMENT', `${what} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/** `{model}-{dataset}`: the start of every file name of the pair, from checked names. */
export function pairPrefix(model: string, dataset: string): string {
  return prefixOf(validateModelName(model), validateDatasetName(dataset));
}

/**
 * `{model}-{dataset}` unchecked: for names read back from the folder (a sidecar's, a listing's), which
 * are only compared with file names, never used to make one.
 */
export function prefixOf(model: string, dataset: string): string {
  return `${model}-${dataset}`;
}

/**
 * `{model}-{dataset}-epoch-{N}.pt` for the checkpoint at the end of epoch N, or
 * `{model}-{dataset}-epoch-{N}-step-{S}.pt` for a save inside epoch N (stop, `save_every_steps`),
 * which orders after every step save of epoch N with a smaller S and before `…-epoch-{N}.pt`. When
 * that name is already committed (a resume from an older checkpoint), the store saves under
 * versionedCheckpointName() instead.
 */
export function checkpointName(model: string, dataset: string, epoch: number, step?: number | null): string {
  const prefix = pairPrefix(model, dataset);
  validateCount(epoch, 'epoch');
  if (step === undefined || step === null) return `${prefix}-epoch-${epoch}.pt`;
  validateCount(step, 'step');
  return `${prefix}-epoch-${epoch}-step-${step}.pt`;
}

/**
 * `{model}-{dataset}-avg-{first}-{last}.pt`: the average of epoch checkpoints whose epochs run from
 * `first` to `last` (the store saves `…-avg-F-L-vN.pt` when that name is committed already).
 */
export function averageCheckpointName(model: string, dataset: string, first: number, last: number): string {
  const prefix = pairPrefix(model, dataset);
  validateCount(first, 'first epoch');
  validateCount(last, 'last epoch');
  if (first > last) {
    throw new AsrTrainerError('E_INVALID_ARGUMENT', `An average's first epoch (${first}) is after its last (${last})`);
  }
  return `${prefix}-avg-${first}-${last}.pt`;
}

export function parseCheckpointName(name: string): ParsedCheckpointName | null {
  const average = AVERAGE_NAME.exec(name);
  if (average) {
    const [first, last] = [Number(average[2]), Number(average[3])];
    const version = average[4] === undefined ? 1 : Number(average[4]);
    if (![first, last, version].every(Number.isSafeInteger) || first > last) return null;
    return { prefix: average[1]!, epoch: last, firstEpoch: first, nameStep: null, kind: 'average', version };
  }
  const match = CHECKPOINT_NAME.exec(name);
  if (!match) return null;
  const epoch = Number(match[2]);
  const nameStep = match[3] === undefined ? null : Number(match[3]);
  const version = match[4] === undefined ? 1 : Number(match[4]);
  if (![epoch, nameStep ?? 0, version].every(Number.isSafeInteger)) return null;
  return { prefix: match[1]!, epoch, nameStep, kind: nameStep === null ? 'epoch' : 'step', version };
}

/**
 * The name of the `version`-th checkpoint at a position: checkpointName()'s for version 1,
 * `…-epoch-N-vV.pt` / `…-epoch-N-step-S-vV.pt` / `…-avg-F-L-vV.pt` after (Lightning's ModelCheckpoint
 * convention).
 */
export function versionedCheckpointName(name: string, version: number): string {
  validateCount(version, 'version');
  if (version <= 1) return name;
  return `${name.slice(0, -'.pt'.length)}-v${version}.pt`;
}

/** A checkpoint's test figures `NAME.pt.test.json` (see test-scores.ts). */
export function testScoresName(checkpoint: string): string {
  return `${checkpoint}.test.json`;
}

/** A checkpoint's pin marker `NAME.pt.pin` (see pins.ts). */
export function pinName(checkpoint: string): string {
  return `${checkpoint}.pin`;
}

/**
 * The names a caller's checkpoint could have: as given, and with `.pt` added when it lacks one
 * ("…-epoch-3" is accepted); names no file can have (over NAME_MAX) are left out.
 */
export function checkpointNameCandidates(requested: string): string[] {
  const candidates = requested.endsWith('.pt') ? [requested] : [requested, `${requested}.pt`];
  return candidates.filter((candidate) => Buffer.byteLength(candidate) <= MAX_CHECKPOINT_NAME_BYTES);
}

export type LinkRole = 'latest' | 'best';
export const LINK_ROLES: readonly LinkRole[] = ['latest', 'best'];

/** `{model}-{dataset}-latest.pt` or `…-best.pt`: the pair's symlinks. */
export function linkName(model: string, dataset: string, role: LinkRole): string {
  return linkNameOfPrefix(pairPrefix(model, dataset), role);
}

/** linkName() of a prefix read back from the folder (a scanned checkpoint's), unchecked. */
export function linkNameOfPrefix(prefix: string, role: LinkRole): string {
  return `${prefix}-${role}.pt`;
}

/** A link name back into its pair prefix and role; null for any other name. */
export function parseLinkName(name: string): { prefix: string; role: LinkRole } | null {
  const match = /^(.+)-(latest|best)\.pt$/.exec(name);
  return match ? { prefix: match[1]!, role: match[2] as LinkRole } : null;
}

/** The name is one of this pair's links (names unchecked: they may come from a listing). */
export function isLinkNameFor(name: string, model: string, dataset: string): boolean {
  const prefix = prefixOf(model, dataset);
  return LINK_ROLES.some((role) => name === linkNameOfPrefix(prefix, role));
}

export function lockFileName(model: string, dataset: string): string {
  return lockFileNameOfPrefix(pairPrefix(model, dataset));
}

function lockFileNameOfPrefix(prefix: string): string {
  return `${prefix}.lock`;
}

export function sidecarName(checkpoint: string): string {
  return `${checkpoint}.json`;
}

/** The checkpoint a sidecar name belongs to (`X.pt.json` → `X.pt`); null for any other name. */
export function checkpointOfSidecarName(name: string): string | null {
  return name.endsWith('.pt.json') ? name.slice(0, -'.json'.length) : null;
}

/**
 * Temp files of this pair: ours are `.{final name}.tmp-{pid}-{random}`; the addon's `.pt` writer is
 * recognised by the same rule (a final name of this pair, optionally dot-prefixed, then `.tmp`). The
 * final name must be one of this pair's own files, so another pair's names never match.
 */
export function isTempNameFor(name: string, model: string, dataset: string): boolean {
  const bare = name.startsWith('.') ? name.slice(1) : name;
  const prefix = prefixOf(model, dataset);
  const ownFinalName = (base: string): boolean => {
    const checkpoint = checkpointOfSidecarName(base) ?? base;
    if (parseCheckpointName(checkpoint)?.prefix === prefix) return true;
    return isLinkNameFor(base, model, dataset) || base === lockFileNameOfPrefix(prefix);
  };
  for (let at = bare.indexOf('.tmp'); at > 0; at = bare.indexOf('.tmp', at + 1)) {
    if (ownFinalName(bare.slice(0, at))) return true;
  }
  return false;
}

/**
 * A temp file of any writer in the folder, of any pair: ours are tempNameFor()'s `.{final}.tmp-{pid}-{random}`,
 * the addon's `.pt` writer's `{final}.tmp-{pid}-{n}` (native/core/src/checkpoint.cpp).
 */
export function isTempName(name: string): boolean {
  return /\.tmp-[0-9]+-[0-9a-z]+$/.test(name);
}

export function tempNameFor(finalName: string): string {
  const random = Math.random().toString(36).slice(2, 10);
  return `.${finalName}.tmp-${process.pid}-${random}`;
}

/**
 * A caller-supplied checkpoint name must be one plain file name inside the folder: anything that
 * could reach another folder is refused before the file system sees it.
 */
export function validatePlainFileName(name: unknown): string {
  const refuse = (why: string): never => {
    throw new AsrTrainerError(
      'E_INVALID_ARGUMENT',
      `Invalid checkpoint name: ${why}; give a plain file name from GET /api/checkpoints, e.g. 'conformer-mini-ljspeech-epoch-3.pt'`,
    );
  };
  if (typeof name !== 'string') return refuse(`expected a string, got ${typeof name}`);
  if (name.length === 0) return refuse('it is empty');
  if (Buffer.byteLength(name, 'utf8') > MAX_CHECKPOINT_NAME_BYTES) {
    return refuse(`it is longer than ${MAX_CHECKPOINT_NAME_BYTES} bytes`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return refuse('it contains a control character');
  if (name.includes('/') || name.includes('\\')) return refuse(`'${name}' contains a path separator`);
  if (name.includes('..')) return refuse(`'${name}' contains '..'`);
  if (name === '.') return refuse(`'.' is the folder itself`);
  return name;
}
