/**
 * The dashboard page over the HTTP + /ws contract. Each panel owns its markup (status, training form,
 * checkpoints table, log, errors; curves in ./charts.ts); this file wires them: what loads when, which
 * event goes to which panel, and which model/dataset pair is on screen.
 */

import { ApiError, apiRequest } from './api.js';
import { TrainingCharts } from './charts.js';
import { CheckpointsPanel, type ShownPair } from './checkpoints-panel.js';
import { element } from './dom.js';
import { ErrorPanel } from './error-panel.js';
import { LogPanel } from './log-panel.js';
import { EventStream, type ConnectionState } from './socket.js';
import { isActive, StatusPanel } from './status-panel.js';
import { TrainForm, type StartKind } from './train-form.js';
import type {
  CheckpointInfo,
  EpochMetrics,
  Progress,
  ServerMessage,
  StartRequest,
  StartResponse,
  TrainStatus,
} from './types.js';

class Dashboard {
  private readonly charts = new TrainingCharts(element('loss-chart'), element('cer-chart'));
  private readonly stream = new EventStream(
    (message) => this.onMessage(message),
    (state) => this.onConnection(state),
  );
  private readonly log = new LogPanel();
  private readonly errors = new ErrorPanel(() => void this.loadAll());
  private readonly statusPanel = new StatusPanel();
  private readonly form = new TrainForm({
    submit: (kind, request) => void this.post(kind, request),
    stop: () => void this.stop(),
    selectionChanged: () => void this.followSelection(),
  });
  private readonly checkpoints = new CheckpointsPanel({
    shown: () => this.shown,
    onResume: (checkpoint) => void this.post('resume', this.form.resumeRequest(checkpoint)),
    onError: (err) => this.reportError(err),
  });
  private status: TrainStatus | null = null;
  /** The run whose progress the curves last received. */
  private chartedRun: string | null = null;
  /** The model/dataset pair whose curves and checkpoints are on screen. */
  private shown: ShownPair | null = null;

  /** Everything the page shows, fetched again after a token is entered. */
  async loadAll(): Promise<void> {
    try {
      const [models, datasets, status] = await Promise.all([
        apiRequest<unknown>('GET', '/api/models'),
        apiRequest<unknown>('GET', '/api/datasets'),
        apiRequest<TrainStatus>('GET', '/api/train/status'),
      ]);
      this.form.fillChoices(models, datasets);
      this.applyStatus(status);
      if (status.model_name) {
        this.form.select(status.model_name, status.dataset_name);
      } else {
        // No run since the server started: show the pair trained most recently (the listing's first).
        const { checkpoints } = await apiRequest<{ checkpoints: CheckpointInfo[] }>('GET', '/api/checkpoints');
        if (checkpoints.length > 0) this.form.select(checkpoints[0].model_name, checkpoints[0].dataset_name);
      }
      await this.followSelection(true);
      this.stream.connect();
    } catch (err) {
      this.reportError(err);
    }
  }

  /** Show the curves and checkpoints of the selected model/dataset (reloaded when the pair changes). */
  private async followSelection(force = false): Promise<void> {
    const selected = this.form.selected();
    if (!selected) return;
    if (!force && this.shown?.model === selected.model && this.shown.dataset === selected.dataset) return;
    this.shown = selected;
    await Promise.all([this.loadHistory(), this.checkpoints.load()]);
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

  private async post(kind: StartKind, request: StartRequest): Promise<void> {
    this.errors.hide();
    try {
      const answer = await apiRequest<StartResponse>('POST', `/api/train/${kind}`, request);
      this.statusPanel.resetTimer();
      const from = answer.resumed_from ? `resumed from ${answer.resumed_from}` : 'fresh start';
      this.log.note('info', `run ${answer.run_id} started (${from}), epochs ${answer.start_epoch}..${answer.epochs}`);
      this.form.select(request.model_name, request.dataset_name);
      await this.followSelection(true);
      await this.refreshStatus();
    } catch (err) {
      this.reportError(err);
    }
  }

  private async stop(): Promise<void> {
    this.errors.hide();
    try {
      await apiRequest('POST', '/api/train/stop');
      this.log.note('info', 'stop requested: the run saves a checkpoint at the current step');
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
        void this.checkpoints.load();
        break;
      case 'log':
        this.log.append(message.payload);
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
    this.statusPanel.show(status);
    // A run that just ended has committed its last checkpoint.
    if (previous && previous.state !== status.state && !isActive(status)) void this.checkpoints.load();
    if (status.model_name && status.run_id !== previous?.run_id) {
      this.form.select(status.model_name, status.dataset_name);
      void this.followSelection();
    }
  }

  private applyProgress(progress: Progress): void {
    if (this.status) {
      this.status = {
        ...this.status,
        epoch: progress.epoch,
        step: progress.step,
        loss: progress.loss,
        lr: progress.lr,
      };
    }
    this.statusPanel.showProgress(progress, this.status?.epochs ?? null);
    if (this.isShown(this.status)) {
      if (progress.run_id !== this.chartedRun) this.charts.startRun(progress);
      this.chartedRun = progress.run_id;
      this.charts.addProgress(progress);
    }
  }

  private applyMetrics(metrics: EpochMetrics): void {
    this.statusPanel.showMetrics(metrics);
    if (this.isShown(this.status)) this.charts.addMetrics(metrics);
  }

  /** Live points belong on the curves only when the running pair is the one on screen. */
  private isShown(status: TrainStatus | null): boolean {
    return (
      !status?.model_name || (status.model_name === this.shown?.model && status.dataset_name === this.shown?.dataset)
    );
  }

  private reportError(err: unknown): void {
    const message = this.errors.report(err);
    // A 401: the stream reconnects once the token is entered.
    if (message === null) this.stream.close();
    else this.log.note('error', message);
  }
}

void new Dashboard().loadAll();
