/** Parsers for option values: each rejects bad input as a usage error that names the option. */

import { InvalidArgumentError } from 'commander';
import { BEAM_RULE, parseBeamWidth } from '../contract/transcribe.js';

export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`expected a positive integer, got '${value}'.`);
  }
  return n;
}

/** `auto` or a positive integer (distributed.nproc_per_node's values). */
export function autoOrPositiveInteger(value: string): number | 'auto' {
  return value.trim() === 'auto' ? 'auto' : positiveInteger(value);
}

export function beamWidth(value: string): number {
  const width = parseBeamWidth(value);
  if (width === null) throw new InvalidArgumentError(`expected ${BEAM_RULE}, got '${value}'.`);
  return width;
}

/** `a,b,c` → ['a', 'b', 'c'] (spaces around names dropped); an empty item is an error. */
export function nameList(value: string): string[] {
  const names = value.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) throw new InvalidArgumentError(`expected comma-separated names, got '${value}'.`);
  return names;
}
