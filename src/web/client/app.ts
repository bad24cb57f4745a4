/** The dashboard page: status, curves, checkpoints, training controls and the log, over the HTTP + /ws contract. */

import { ApiError, apiRequest, clearToken, setToken } from './api.js';
import { TrainingCharts } from './charts.js';
import { DASH, duration, fixed, invalidReason, learningRate, percent, sizeMb, timestamp } from './format.js';
import { EventStream, type ConnectionState } from './socket.js';
import type {
  CheckpointInfo,
  EpochMetrics,
  LogLine,
  Progress,
  ServerMessage,
  StartRequest,
  StartResponse,
  TrainStatus,
} from './types.js';

const MAX_LOG_LINES = 500;

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`dashboard markup lacks #${id}`);
  return found as T;
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

function describeFailure(error: TrainStatus['error']): string {
  if (!error) return '';
  if (typeof error === 'string') return error;
  const how = error.signal ? ` (signal ${error.signal})` : error.exit_code != null ? ` (exit code ${error.exit_code})` : '';
  const tail = error.last_logs?.length ? `\n${error.last_logs.join('\n')}` : '';
  return `${error.message}${error.code ? ` [${error.code}]` : ''}${how}${tail}`;
}

/** Seconds per step, smoothed, from the arrival times of `progress` events; pauses (validation) are skipped. */
class StepTimer {
  private last: number | null = null;
  private secondsPerStep: number | null = null;

  observe(): void {
    const now = performance.now();
    if (this.last !== null) {
      const seconds = (now - this.last) / 1000;
      if (seconds < 120) {
        this.secondsPerStep = this.secondsPerStep === null ? seconds : 0.8 * this.secondsPerStep + 0.2 * seconds;
      }
    }
    this.last = now;
  }

  reset(): void {
    this.last = null;
    this.secondsPerStep = null;
  }

  eta(progress: Progress, epochs: number | null): number | null {
    if (this.secondsPerStep === null || !epochs || !progress.steps_per_epoch) return null;
    const leftInEpoch = Math.max(progress.steps_per_epoch - progress.step, 0);
    const leftEpochs = Math.max(epochs - progress.epoch, 0);
    return (leftInEpoch + leftEpochs * progress.steps_per_epoch) * this.secondsPerStep;
  }
}

class Dashboard {
  private readonly charts = new TrainingCharts(element('loss-chart'), element('cer-chart'));
  private readonly stream = new EventStream(
    (message) => this.onMessage(message),
    (state) => this.onConnection(state),
  );
  private readonly timer = new StepTimer();
  private status: TrainStatus | null = null;
  private checkpointRequests = 0;
  /** The run whose progress the curves last received. */
  private chartedRun: string | null = null;
  /** The model/dataset pair whose curves and checkpoints are on screen. */
  private shown: { model: string; dataset: string } | null = null;
  private readonly form = element<HTMLFormElement>('train-form');

  async start(): Promise<void> {
    this.bindControls();
    await this.loadAll();
  }

  private bindControls(): void {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.action('start');
    });
    element('btn-resume').addEventListener('click', () => void this.action('resume'));
    element('btn-stop').addEventListener('click', () => void this.stop());
    element('btn-refresh').addEventListener('click', () => void this.loadCheckpoints());
    element('error-close').addEventListener('click', () => this.hideError());
    element('f-model').addEventListener('change', () => void this.followSelection());
    element('f-dataset').addEventListener('change', () => void this.followSelection());
    element<HTMLFormElement>('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = element<HTMLInputElement>('token-input');
      setToken(input.value.trim());
      input.value = '';
      element('token-form').hidden = true;
      this.hideError();
      void this.loadAll();
    });
  }

  /** Everything the page shows, fetched again after a token is entered. */
  private async loadAll(): Promise<void> {
    try {
      const [models, datasets, status] = await Promise.all([
        apiRequest<unknown>('GET', '/api/models'),
        apiRequest<unknown>('GET', '/api/datasets'),
        apiRequest<TrainStatus>('GET', '/api/train/status'),
      ]);
      this.fillSelect('f-model', names(models));
      this.fillSelect('f-dataset', names(datasets));
      this.applyStatus(status);
      if (status.model_name) {
        this.select(status.model_name, status.dataset_name);
      } else {
        // No run since the server started: show the pair trained most recently (the listing's first).
        const { checkpoints } = await apiRequest<{ checkpoints: CheckpointInfo[] }>('GET', '/api/checkpoints');
        if (checkpoints.length > 0) this.select(checkpoints[0].model_name, checkpoints[0].dataset_name);
      }
      await this.followSelection(true);
      this.stream.connect();
    } catch (err) {
      this.reportError(err);
    }
  }

  private fillSelect(id: string, options: string[]): void {
    const select = element<HTMLSelectElement>(id);
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

  private select(model: string | null, dataset: string | null): void {
    const modelSelect = element<HTMLSelectElement>('f-model');
    const datasetSelect = element<HTMLSelectElement>('f-dataset');
    if (model && Array.from(modelSelect.options).some((o) => o.value === model)) modelSelect.value = model;
    if (dataset && Array.from(datasetSelect.options).some((o) => o.value === dataset)) datasetSelect.value = dataset;
  }

  /** Show the curves and checkpoints of the selected model/dataset (reloaded when the pair changes). */
  private async followSelection(force = false): Promise<void> {
    const model = element<HTMLSelectElement>('f-model').value;
    const dataset = element<HTMLSelectElement>('f-dataset').value;
    if (!model || !dataset) return;
    if (!force && this.shown?.model === model && this.shown.dataset === dataset) return;
    this.shown = { model, dataset };
    await Promise.all([this.loadHistory(), this.loadCheckpoints()]);
  }

  private async loadHistory(): Promise<void> {
    if (!this.shown) return;
    const query = new URLSearchParams({ model_name: this.shown.model, dataset_name: this.shown.dataset });
    try {
      const history = await apiRequest<unknown>('GET', `/api/metrics/history?${query}`);
      const records = Array.isArray(history)
        ? history
        : (Object.values((history ?? {}) as Record<string, unknown>).find(Array.isArray) ?? []);
      this.charts.clear();
      for (const record of records as unknown[]) this.charts.addHistoryRecord(record);
    } catch (err) {
      // A server without history yet (404) still shows live points.
      if (err instanceof ApiError && err.status === 404) return;
      this.reportError(err);
    }
  }

  private async loadCheckpoints(): Promise<void> {
    if (!this.shown) return;
    const query = new URLSearchParams({ model_name: this.shown.model, dataset_name: this.shown.dataset });
    // Checkpoint events can come faster than listings return: only the newest request may render.
    const request = ++this.checkpointRequests;
    try {
      const { checkpoints } = await apiRequest<{ checkpoints: CheckpointInfo[] }>('GET', `/api/checkpoints?${query}`);
      if (request === this.checkpointRequests) this.renderCheckpoints(checkpoints);
    } catch (err) {
      this.reportError(err);
    }
  }

  private renderCheckpoints(checkpoints: CheckpointInfo[]): void {
    const body = element('checkpoints').querySelector('tbody') as HTMLTableSectionElement;
    body.replaceChildren(
      ...checkpoints.map((checkpoint) => {
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
        button.addEventListener('click', () => void this.resumeFrom(checkpoint));
        actions.append(button);
        row.append(actions);
        return row;
      }),
    );
    element('checkpoints-empty').hidden = checkpoints.length > 0;
  }

  private formRequest(): StartRequest {
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

  private async action(kind: 'start' | 'resume'): Promise<void> {
    const request = this.formRequest();
    if (kind === 'resume') delete request.resume_from_checkpoint;
    await this.post(kind, request);
  }

  private async resumeFrom(checkpoint: CheckpointInfo): Promise<void> {
    const request = this.formRequest();
    delete request.resume_from_checkpoint;
    request.model_name = checkpoint.model_name || request.model_name;
    request.dataset_name = checkpoint.dataset_name || request.dataset_name;
    request.specific_checkpoint = checkpoint.name;
    await this.post('resume', request);
  }

  private async post(kind: 'start' | 'resume', request: StartRequest): Promise<void> {
    this.hideError();
    try {
      const answer = await apiRequest<StartResponse>('POST', `/api/train/${kind}`, request);
      this.timer.reset();
      const from = answer.resumed_from ? `resumed from ${answer.resumed_from}` : 'fresh start';
      this.log('info', `run ${answer.run_id} started (${from}), epochs ${answer.start_epoch}..${answer.epochs}`);
      this.select(request.model_name, request.dataset_name);
      await this.followSelection(true);
      await this.refreshStatus();
    } catch (err) {
      this.reportError(err);
    }
  }

  private async stop(): Promise<void> {
    this.hideError();
    try {
      await apiRequest('POST', '/api/train/stop');
      this.log('info', 'stop requested: the run saves a checkpoint at the current step');
      await this.refreshStatus();
    } catch (err) {
      this.reportError(err);
    }
  }

  private async refreshStatus(): Promise<void> {
    try {
      this.applyStatus(await apiRequest<TrainStatus>('GET', '/api/train/status'));
    } catch (err) {
      this.reportError(err);
    }
  }

  private onMessage(message: ServerMessage): void {
    switch (message.type) {
      case 'status':
        this.applyStatus(message.payload);
        break;
      case 'progress':
        this.applyProgress(message.payload);
        break;
      case 'metrics':
        this.applyMetrics(message.payload);
        break;
      case 'checkpoint':
        void this.loadCheckpoints();
        break;
      case 'log':
        this.appendLog(message.payload);
        break;
    }
  }

  private onConnection(state: ConnectionState): void {
    const badge = element('connection');
    badge.dataset.state = state;
    badge.textContent = { connecting: 'connecting…', open: 'live', closed: 'disconnected' }[state];
    // After a reconnect the server sends a fresh status; the curves may have missed points meanwhile.
    if (state === 'open') void this.loadHistory();
  }

  private applyStatus(status: TrainStatus): void {
    const previous = this.status;
    this.status = status;
    const state = element('st-state');
    state.textContent = status.state;
    state.dataset.state = status.state;
    element('st-run').textContent = status.run_id ?? DASH;
    element('st-target').textContent = status.model_name ? `${status.model_name} / ${status.dataset_name}` : DASH;
    element('st-epoch').textContent = status.epoch != null ? `${status.epoch} / ${status.epochs ?? '?'}` : DASH;
    element('st-step').textContent = status.step != null ? String(status.step) : DASH;
    element('st-loss').textContent = fixed(status.loss, 4);
    element('st-lr').textContent = learningRate(status.lr);
    element('st-resumed').textContent = status.resumed_from ?? DASH;
    const runError = element('st-error');
    runError.hidden = !status.error;
    runError.textContent = describeFailure(status.error);
    const active = status.state === 'starting' || status.state === 'running' || status.state === 'stopping';
    if (!active) {
      element('st-ups').textContent = DASH;
      element('st-eta').textContent = DASH;
    }
    if (previous && previous.state !== status.state && !active) void this.loadCheckpoints();
    if (status.model_name && status.run_id !== previous?.run_id) {
      this.select(status.model_name, status.dataset_name);
      void this.followSelection();
    }
  }

  private applyProgress(progress: Progress): void {
    this.timer.observe();
    if (this.status) {
      this.status = { ...this.status, epoch: progress.epoch, step: progress.step, loss: progress.loss, lr: progress.lr };
    }
    element('st-epoch').textContent = `${progress.epoch} / ${this.status?.epochs ?? '?'}`;
    element('st-step').textContent = `${progress.step} / ${progress.steps_per_epoch} (global ${progress.global_step})`;
    element('st-loss').textContent = fixed(progress.loss, 4);
    element('st-lr').textContent = learningRate(progress.lr);
    element('st-ups').textContent = fixed(progress.utterances_per_s, 1);
    element('st-eta').textContent = duration(this.timer.eta(progress, this.status?.epochs ?? null));
    if (this.isShown(this.status)) {
      if (progress.run_id !== this.chartedRun) this.charts.startRun(progress);
      this.chartedRun = progress.run_id;
      this.charts.addProgress(progress);
    }
  }

  private applyMetrics(metrics: EpochMetrics): void {
    element('st-cer').textContent = `${percent(metrics.val_cer, 2)} (epoch ${metrics.epoch})`;
    if (this.isShown(this.status)) this.charts.addMetrics(metrics);
  }

  private isShown(status: TrainStatus | null): boolean {
    return !status?.model_name || (status.model_name === this.shown?.model && status.dataset_name === this.shown?.dataset);
  }

  private log(level: LogLine['level'], message: string): void {
    this.appendLog({ level, message, timestamp: new Date().toISOString() });
  }

  private appendLog(line: LogLine): void {
    const pane = element('log');
    const atBottom = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 4;
    const span = document.createElement('span');
    span.className = line.level;
    const time = new Date(line.timestamp);
    const clock = Number.isNaN(time.getTime()) ? '' : time.toLocaleTimeString();
    span.textContent = `${clock} [${line.level}] ${line.message}\n`;
    pane.append(span);
    while (pane.childElementCount > MAX_LOG_LINES) pane.firstElementChild?.remove();
    if (atBottom) pane.scrollTop = pane.scrollHeight;
  }

  private reportError(err: unknown): void {
    if (err instanceof ApiError && err.status === 401) {
      clearToken();
      this.stream.close();
      element('token-form').hidden = false;
      element<HTMLInputElement>('token-input').focus();
      this.showError('The server needs an API token (401): enter it above.');
      return;
    }
    const message =
      err instanceof ApiError
        ? `${err.status ? `${err.status}: ` : ''}${err.message}${err.code ? ` (${err.code})` : ''}`
        : String((err as Error)?.message ?? err);
    this.showError(message);
    this.log('error', message);
  }

  private showError(message: string): void {
    element('error-text').textContent = message;
    element('error').hidden = false;
  }

  private hideError(): void {
    element('error').hidden = true;
  }
}

void new Dashboard().start();
