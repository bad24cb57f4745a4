/**
 * The rules of a datasets entry that its schema cannot state alone: where its sources come from (path,
 * train, or combine, which stands alone and names plain datasets), and how its paths resolve.
 */
import path from 'node:path';
import { SPLIT_ROLES } from '../contract/datasets.js';
import type { DatasetConfig } from './schema.js';

export interface DatasetEntryProblem {
  key: string;
  message: string;
}

export function datasetEntryProblems(entry: DatasetConfig, all: Record<string, DatasetConfig>): DatasetEntryProblem[] {
  if (entry.combine === undefined) {
    if (entry.path === undefined && entry.train === undefined) {
      return [
        { key: 'path', message: 'missing: give path (the corpus folder or manifest), train (its sources) or combine' },
      ];
    }
    return [];
  }
  const problems: DatasetEntryProblem[] = [];
  for (const key of ['path', 'format', ...SPLIT_ROLES, 'val_list'] as const) {
    if (entry[key] !== undefined) {
      problems.push({
        key,
        message: 'not with combine: the combined datasets bring their own; set it on each of them',
      });
    }
  }
  for (const member of entry.combine) {
    const target = Object.hasOwn(all, member) ? all[member] : undefined;
    if (target === undefined) {
      problems.push({
        key: 'combine',
        message: `names ${member}, which is not a dataset (known: ${Object.keys(all).join(', ')})`,
      });
    } else if (target.combine !== undefined) {
      problems.push({ key: 'combine', message: `names ${member}, itself a combination: list its datasets instead` });
    }
  }
  return problems;
}

/** The entry with every path absolute: path against `baseDir`, list entries against path (or `baseDir`). */
export function resolveDatasetPaths(entry: DatasetConfig, baseDir: string): DatasetConfig {
  const root = entry.path === undefined ? undefined : path.resolve(baseDir, entry.path);
  const resolved: DatasetConfig = { ...entry, ...(root !== undefined ? { path: root } : {}) };
  if (entry.val_list !== undefined) resolved.val_list = path.resolve(baseDir, entry.val_list);
  for (const role of SPLIT_ROLES) {
    const sources = entry[role];
    if (sources !== undefined) resolved[role] = sources.map((source) => path.resolve(root ?? baseDir, source));
  }
  return resolved;
}
