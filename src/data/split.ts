/**
 * Deterministic train/validation split and training-set limits. Both rank ids by a seeded hash, so the
 * choice depends only on (seed, ids): never on file order, the platform or the Node version.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AsrTrainerError } from '../errors.js';

/** A number in [0, 1) from sha256(purpose, seed, id); independent for each purpose. */
export function idScore(id: string, seed: number, purpose: 'val' | 'limit'): number {
  const digest = createHash('sha256').update(`${purpose}\0${seed}\0${id}`).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** The `count` ids ranked lowest for `purpose`; ties (practically never) broken by id. */
function lowestRanked(ids: readonly string[], count: number, seed: number, purpose: 'val' | 'limit'): Set<string> {
  const ranked = ids
    .map((id) => ({ id, score: idScore(id, seed, purpose) }))
    .sort((a, b) => a.score - b.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return new Set(ranked.slice(0, count).map((entry) => entry.id));
}

/**
 * Validation ids for `fraction` of `ids`: round(n × fraction) of them, at least one when fraction > 0
 * and at least one id is left for training.
 */
export function validationIdsByFraction(ids: readonly string[], fraction: number, seed: number): Set<string> {
  if (fraction <= 0 || ids.length < 2) return new Set();
  const count = Math.min(ids.length - 1, Math.max(1, Math.round(ids.length * fraction)));
  return lowestRanked(ids, count, seed, 'val');
}

/** Reads a validation list: one id a line; blank lines and `#` comments ignored. */
export function readIdList(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new AsrTrainerError(
      'E_DATASET_INVALID',
      `Cannot read the validation list ${file}: ${(error as Error).message}. Fix datasets.<name>.val_list or remove it to split by val_fraction.`,
      { file },
    );
  }
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '');
}

/**
 * A deterministic subset of `items` of at most `limit`, in their original order. The subset for a
 * smaller limit is contained in the one for a larger limit.
 */
export function limitDeterministically<T extends { id: string }>(
  items: readonly T[],
  limit: number,
  seed: number,
): T[] {
  if (limit >= items.length) return [...items];
  const keep = lowestRanked(
    items.map((item) => item.id),
    Math.max(0, limit),
    seed,
    'limit',
  );
  return items.filter((item) => keep.has(item.id));
}
