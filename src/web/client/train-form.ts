/** The training form: model and dataset choices, the request fields, and the start, resume and stop buttons. */

import { element } from './dom.js';
import type { CheckpointInfo, StartRequest } from './types.js';

export type StartKind = 'start' | 'resume';

export interface TrainFormHandlers {
  submit: (kind: StartKind, request: StartRequest) => void;
  stop: () => void;
  /** The model or dataset select changed. */
  selectionChanged: () => void;
}

/** The list endpoints answer `{models: [...]}`-style objects or bare arrays, of names or `{name}` objects. */
function names(listing: unknown): string[] {
  const items = Array.isArray(listing)
    ? listing
    : (Object.values((listing ?? {}) as Record<string, unknown>).find(Array.isArray) ?? []);
  return (items as unknown[])
    .map((item) => (typeof item === 'string' ? item : (item as { name?: unknown })?.name))
    .filter((name): name is string => typeof name === 'string');
}

function fillSelect(select: HTMLSelectElement, options: string[]): void {
  const previous = select.value;
  select.replaceChildren(
    ...options.map((name) => {
      const option = document.createElement('option');
      option.value = option.textContent = name;
      return option;
    }),
  );
  if (options.includes(previous)) select.value = previous;
}

export class TrainForm {
  private readonly form = element<HTMLFormElement>('train-form');
  private readonly model = element<HTMLSelectElement>('f-model');
  private readonly dataset = element<HTMLSelectElement>('f-dataset');

  constructor(handlers: TrainFormHandlers) {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      handlers.submit('start', this.request());
    });
    element('btn-resume').addEventListener('click', () => {
      const request = this.request();
      // POST /api/train/resume implies resuming: the select does not apply.
      delete request.resume_from_checkpoint;
      handlers.submit('resume', request);
    });
    element('btn-stop').addEventListener('click', () => handlers.stop());
    this.model.addEventListener('change', () => handlers.selectionChanged());
    this.dataset.addEventListener('change', () => handlers.selectionChanged());
  }

  /** The choices from GET /api/models and GET /api/datasets, keeping the current selection where it still exists. */
  fillChoices(models: unknown, datasets: unknown): void {
    fillSelect(this.model, names(models));
    fillSelect(this.dataset, names(datasets));
  }

  /** Selects the pair where the selects offer it. */
  select(model: string | null, dataset: string | null): void {
    if (model && Array.from(this.model.options).some((o) => o.value === model)) this.model.value = model;
    if (dataset && Array.from(this.dataset.options).some((o) => o.value === dataset)) this.dataset.value = dataset;
  }

  selected(): { model: string; dataset: string } | null {
    const model = this.model.value;
    const dataset = this.dataset.value;
    return model && dataset ? { model, dataset } : null;
  }

  /** The form's fields as a resume from one checkpoint of the table. */
  resumeRequest(checkpoint: CheckpointInfo): StartRequest {
    const request = this.request();
    delete request.resume_from_checkpoint;
    request.model_name = checkpoint.model_name || request.model_name;
    request.dataset_name = checkpoint.dataset_name || request.dataset_name;
    request.specific_checkpoint = checkpoint.name;
    return request;
  }

  /** The fields as a start request; empty fields are left out, so the server's config defaults apply. */
  private request(): StartRequest {
    const data = new FormData(this.form);
    const text = (key: string) => String(data.get(key) ?? '').trim();
    const integer = (key: string) => (text(key) === '' ? undefined : Number.parseInt(text(key), 10));
    const request: StartRequest = { model_name: text('model_name'), dataset_name: text('dataset_name') };
    const epochs = integer('epochs');
    const batchSize = integer('batch_size');
    const limit = integer('limit_samples');
    if (epochs !== undefined) request.epochs = epochs;
    if (batchSize !== undefined) request.batch_size = batchSize;
    if (limit !== undefined) request.limit_samples = limit;
    if (data.get('lightweight') !== null) request.lightweight = true;
    const resume = text('resume_from_checkpoint');
    if (resume !== '') request.resume_from_checkpoint = resume === 'true';
    if (text('specific_checkpoint') !== '') request.specific_checkpoint = text('specific_checkpoint');
    return request;
  }
}
