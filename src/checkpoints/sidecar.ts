/**
 * The sidecar `NAME.pt.json`: the done marker of a checkpoint. Pure: building, serialising and
 * checking a sidecar touch no file, so every rule here is testable on strings.
 */
import type { CheckpointKind } from './names.js';

export const SIDECAR_FORMAT_VERSION = 1;

/** Metric values are fractions (0.046 is 4.6%); null where a metric was not computed. */
export type CheckpointMetrics = Record<string, number | null>;

export type ModelConfigRecord = Record<string, string | number | boolean | null>;

export interface CheckpointSidecar {
  format_version: number;
  name: string;
  model_name: string;
  dataset_name: string;
  kind: CheckpointKind;
  epoch: number;
  /** Steps done inside `epoch` when saved (equals steps per epoch for an epoch checkpoint). */
  step: number;
  global_step: number;
  sha256: string;
  /** Bytes. */
  size: number;
  metrics: CheckpointMetrics;
  config_hash: string;
  created_at: string;
  run_id: string;
  /**
   * The checkpoint the saving run resumed from (null: a fresh start); absent in sidecars written before
   * it was recorded, which list with an unknown lineage.
   */
  resumed_from?: string | null;
  /** The model config the checkpoint was trained with, so resume compatibility needs no .pt read. */
  model_config?: ModelConfigRecord;
  batch_size?: number;
  /**
   * An average (kind `average`) only: the checkpoints whose weights it is the mean of, in epoch order; its
   * position (epoch, step, global_step) and config are the last one's, its metrics its own evaluation's.
   */
  averaged_from?: string[];
  /**
   * Worker processes of the data-parallel run that saved it (1: one process); absent in sidecars written
   * before it was recorded. Informational: positions count global batches, so any world size resumes it.
   */
  world_size?: number;
}

export type SidecarCheck = { ok: true; sidecar: CheckpointSidecar } | { ok: false; problem: string };

export function serializeSidecar(sidecar: CheckpointSidecar): string {
  return `${JSON.stringify(sidecar, null, 2)}\n`;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and checks a sidecar's text; `problem` says what is wrong in words a log line can carry. */
export function parseSidecar(text: string): SidecarCheck {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, problem: `sidecar is not valid JSON (${(error as Error).message})` };
  }
  if (!isRecord(value)) return { ok: false, problem: 'sidecar is not a JSON object' };
  const v = value;
  if (!isCount(v.format_version)) return { ok: false, problem: 'sidecar has no format_version' };
  if (v.format_version > SIDECAR_FORMAT_VERSION) {
    return {
      ok: false,
      problem: `sidecar format_version ${v.format_version} is newer than this program reads (${SIDECAR_FORMAT_VERSION}); upgrade asr-trainer`,
    };
  }
  const strings = ['name', 'model_name', 'dataset_name', 'sha256', 'config_hash', 'created_at', 'run_id'] as const;
  for (const key of strings) {
    if (typeof v[key] !== 'string') return { ok: false, problem: `sidecar field '${key}' is missing or not a string` };
  }
  for (const key of ['epoch', 'step', 'global_step', 'size'] as const) {
    if (!isCount(v[key])) return { ok: false, problem: `sidecar field '${key}' is not a non-negative integer` };
  }
  if (v.kind !== 'epoch' && v.kind !== 'step' && v.kind !== 'average')
    return { ok: false, problem: `sidecar field 'kind' is not 'epoch', 'step' or 'average'` };
  if (!/^[0-9a-f]{64}$/.test(v.sha256 as string)) return { ok: false, problem: 'sidecar sha256 is not 64 hex digits' };
  if (Number.isNaN(Date.parse(v.created_at as string)))
    return { ok: false, problem: 'sidecar created_at is not a date' };
  if (!isRecord(v.metrics) || !Object.values(v.metrics).every((m) => m === null || typeof m === 'number')) {
    return { ok: false, problem: `sidecar field 'metrics' is not an object of numbers` };
  }
  if (v.model_config !== undefined && !isRecord(v.model_config)) {
    return { ok: false, problem: `sidecar field 'model_config' is not an object` };
  }
  if (v.resumed_from !== undefined && v.resumed_from !== null && typeof v.resumed_from !== 'string') {
    return { ok: false, problem: `sidecar field 'resumed_from' is not a string or null` };
  }
  const averagedFrom = v.averaged_from;
  if (averagedFrom !== undefined || v.kind === 'average') {
    if (
      !Array.isArray(averagedFrom) ||
      averagedFrom.length === 0 ||
      !averagedFrom.every((n) => typeof n === 'string')
    ) {
      return { ok: false, problem: `sidecar field 'averaged_from' is not a list of checkpoint names` };
    }
    if (v.kind !== 'average') return { ok: false, problem: `sidecar lists 'averaged_from' on a ${v.kind} checkpoint` };
  }
  if (v.batch_size !== undefined && !isCount(v.batch_size)) {
    return { ok: false, problem: `sidecar field 'batch_size' is not a non-negative integer` };
  }
  if (v.world_size !== undefined && (!isCount(v.world_size) || v.world_size < 1)) {
    return { ok: false, problem: `sidecar field 'world_size' is not a positive integer` };
  }
  return { ok: true, sidecar: v as unknown as CheckpointSidecar };
}

/**
 * The checks that need the file's name and size but no hashing: enough for listing. Returns the
 * problem, or null when the sidecar describes this file.
 */
export function sidecarMismatch(
  sidecar: CheckpointSidecar,
  expected: { name: string; size: number; epoch: number; kind: CheckpointKind },
): string | null {
  if (sidecar.name !== expected.name) return `sidecar names '${sidecar.name}', not this file`;
  if (sidecar.kind !== expected.kind)
    return `sidecar says a ${sidecar.kind} checkpoint, the name a ${expected.kind} one`;
  if (sidecar.epoch !== expected.epoch) return `sidecar says epoch ${sidecar.epoch}, the name epoch ${expected.epoch}`;
  if (sidecar.size !== expected.size) {
    return `file is ${expected.size} bytes but its sidecar recorded ${sidecar.size} (truncated or replaced)`;
  }
  return null;
}

/** The validation CER that ranks checkpoints for `best`, or null when there is none. */
export function valCer(metrics: CheckpointMetrics): number | null {
  const cer = metrics.val_cer;
  return typeof cer === 'number' && Number.isFinite(cer) ? cer : null;
}
