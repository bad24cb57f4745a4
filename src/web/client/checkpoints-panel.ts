/** The checkpoints table of the model/dataset on screen: marks (latest, best, invalid) and "Resume from here". */

import { apiRequest } from './api.js';
import { element } from './dom.js';
import { DASH, invalidReason, percent, sizeMb, timestamp } from './format.js';
import type { CheckpointInfo } from './types.js';

export interface ShownPair {
  model: string;
  dataset: string;
}

export interface CheckpointsPanelOptions {
  /** The pair whose checkpoints to list (null before the selects are filled). */
  shown: () => ShownPair | null;
  onResume: (checkpoint: CheckpointInfo) => void;
  onError: (err: unknown) => void;
}

export class CheckpointsPanel {
  private requests = 0;

  constructor(private readonly options: CheckpointsPanelOptions) {
    element('btn-refresh').addEventListener('click', () => void this.load());
  }

  async load(): Promise<void> {
    const shown = this.options.shown();
    if (!shown) return;
    const query = new URLSearchParams({ model_name: shown.model, dataset_name: shown.dataset });
    // Checkpoint events can come faster than listings return: only the newest request may render.
    const request = ++this.requests;
    try {
      const { checkpoints } = await apiRequest<{ checkpoints: CheckpointInfo[] }>('GET', `/api/checkpoints?${query}`);
      if (request === this.requests) this.render(checkpoints);
    } catch (err) {
      this.options.onError(err);
    }
  }

  private render(checkpoints: CheckpointInfo[]): void {
    const body = element('checkpoints').querySelector('tbody') as HTMLTableSectionElement;
    body.replaceChildren(...checkpoints.map((checkpoint) => this.row(checkpoint)));
    element('checkpoints-empty').hidden = checkpoints.length > 0;
  }

  private row(checkpoint: CheckpointInfo): HTMLTableRowElement {
    const row = document.createElement('tr');
    row.dataset.name = checkpoint.name;
    const invalid = invalidReason(checkpoint);
    if (invalid) row.classList.add('invalid');
    const cells = [
      checkpoint.name,
      String(checkpoint.epoch ?? DASH),
      String(checkpoint.step ?? DASH),
      sizeMb(checkpoint.size_mb),
      percent(checkpoint.metrics?.val_cer ?? null, 2),
      testFigures(checkpoint),
      timestamp(checkpoint.created_at),
    ];
    for (const text of cells) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.append(cell);
    }
    const marks = document.createElement('td');
    const mark = (cls: string, text: string, title?: string) => {
      const span = document.createElement('span');
      span.className = `mark ${cls}`;
      span.textContent = text;
      if (title) span.title = title;
      marks.append(span);
    };
    if (checkpoint.is_latest) mark('latest', 'latest');
    if (checkpoint.is_best) mark('best', 'best');
    if (invalid) mark('invalid', `invalid: ${invalid}`, invalid);
    row.append(marks);
    const actions = document.createElement('td');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'small resume-here';
    button.textContent = 'Resume from here';
    button.disabled = invalid !== null;
    button.addEventListener('click', () => this.options.onResume(checkpoint));
    actions.append(button);
    row.append(actions);
    return row;
  }
}

/** "test-clean 12.30 % · test-other 20.10 %": WER on each test split scored when the run ended. */
function testFigures(checkpoint: CheckpointInfo): string {
  if (!checkpoint.test?.length) return DASH;
  return checkpoint.test.map((split) => `${split.split} ${percent(split.wer, 2)}`).join(' · ');
}
