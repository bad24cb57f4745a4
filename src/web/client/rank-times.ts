/**
 * Per-rank step time of a data-parallel run: one bar per rank from the `progress` events' `rank_step_s`,
 * the slowest marked, since the slowest rank sets every step's pace. Hidden for a one-process run.
 */

import { element } from './dom.js';
import { fixed } from './format.js';

export class RankTimes {
  private readonly panel = element('rank-times');
  private readonly list = element('rank-times-list');

  /** A status of one process (or a new run at another world size) hides what an earlier run showed. */
  showWorld(worldSize: number): void {
    if (worldSize <= 1 || this.list.childElementCount !== worldSize) this.clear();
  }

  show(rankSeconds: number[] | undefined): void {
    if (!rankSeconds || rankSeconds.length <= 1) return;
    const slowest = rankSeconds.indexOf(Math.max(...rankSeconds));
    const longest = rankSeconds[slowest] > 0 ? rankSeconds[slowest] : 1;
    const rows = rankSeconds.map((seconds, rank) => {
      const row = document.createElement('li');
      row.dataset.rank = String(rank);
      row.dataset.seconds = String(seconds);
      if (rank === slowest) row.className = 'slowest';
      const label = document.createElement('span');
      label.className = 'rank';
      label.textContent = `rank ${rank}`;
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${Math.round((seconds / longest) * 100)}%`;
      const value = document.createElement('span');
      value.className = 'seconds';
      value.textContent = `${fixed(seconds, 3)} s${rank === slowest ? ' (slowest)' : ''}`;
      row.append(label, bar, value);
      return row;
    });
    this.list.replaceChildren(...rows);
    this.panel.hidden = false;
  }

  private clear(): void {
    this.list.replaceChildren();
    this.panel.hidden = true;
  }
}
