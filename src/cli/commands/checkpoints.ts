/**
 * `asr-trainer checkpoints`: the checkpoint folder as a table, or as the GET /api/checkpoints JSON;
 * `--pin NAME` / `--unpin NAME` pin or unpin one checkpoint instead.
 */

import { CheckpointStore } from '../../checkpoints/index.js';
import type { CheckpointEntry } from '../../contract/index.js';
import { loadConfig } from '../../config/index.js';
import { formatPercent } from '../progress.js';

export interface CheckpointsOptions {
  config?: string;
  model?: string;
  dataset?: string;
  json?: boolean;
  pin?: string;
  unpin?: string;
}

export async function checkpointsCommand(options: CheckpointsOptions): Promise<void> {
  const config = loadConfig({ path: options.config });
  const store = new CheckpointStore({ dir: config.paths.checkpoints });
  for (const [name, pinned] of [
    [options.pin, true],
    [options.unpin, false],
  ] as const) {
    if (name === undefined) continue;
    await store.setPinned(name, pinned);
    process.stdout.write(`${pinned ? 'pinned' : 'unpinned'} ${name}${pinned ? ': retention never deletes it' : ''}\n`);
  }
  if (options.pin !== undefined || options.unpin !== undefined) return;
  const checkpoints = await store.list({ model: options.model, dataset: options.dataset });
  if (options.json) {
    process.stdout.write(JSON.stringify({ checkpoints }, null, 2) + '\n');
    return;
  }
  if (checkpoints.length === 0) {
    process.stdout.write(`no checkpoints in ${config.paths.checkpoints}\n`);
    return;
  }
  process.stdout.write(formatCheckpointTable(checkpoints));
}

/** Aligned columns, newest first as listed; invalid checkpoints say what is wrong with them. */
export function formatCheckpointTable(checkpoints: CheckpointEntry[]): string {
  const rows = checkpoints.map((c) => {
    const cer = typeof c.metrics?.val_cer === 'number' ? formatPercent(c.metrics.val_cer) : '-';
    const marks = [
      c.is_latest ? 'latest' : '',
      c.is_best ? 'best' : '',
      c.pinned ? 'pinned' : '',
      c.valid ? '' : `INVALID: ${c.problem ?? 'no valid sidecar'}`,
    ]
      .filter(Boolean)
      .join(', ');
    return [c.name, String(c.epoch), String(c.step), `${c.size_mb.toFixed(1)} MB`, cer, c.created_at, marks];
  });
  const header = ['NAME', 'EPOCH', 'STEP', 'SIZE', 'VAL CER', 'CREATED', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows]
    .map(
      (row) =>
        row
          .map((cell, i) => cell.padEnd(widths[i]))
          .join('  ')
          .trimEnd() + '\n',
    )
    .join('');
}
