/** Display formatting: the API gives fractions and raw numbers; people read percent, units and durations. */

import type { CheckpointInfo } from './types.js';

export const DASH = '–';

export function percent(fraction: number | null | undefined, digits = 1): string {
  return typeof fraction === 'number' && Number.isFinite(fraction) ? `${(fraction * 100).toFixed(digits)} %` : DASH;
}

export function fixed(value: number | null | undefined, digits: number): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : DASH;
}

export function learningRate(value: number | null | undefined): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toExponential(2) : DASH;
}

export function sizeMb(value: number | null | undefined): string {
  return typeof value === 'number' && Number.isFinite(value) ? `${value.toFixed(1)} MB` : DASH;
}

export function duration(seconds: number | null | undefined): string {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return DASH;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}

export function timestamp(iso: string | null | undefined): string {
  if (!iso) return DASH;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** Why a listed checkpoint cannot be resumed from, or null when it is valid. */
export function invalidReason(checkpoint: CheckpointInfo): string | null {
  if (checkpoint.valid === false) return checkpoint.problem || 'invalid';
  return null;
}
