/**
 * The dashboard in a real browser (Debian's chromium through playwright-core) against the real server
 * (buildApp + listen on port 0) training a tiny model on a generated corpus.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { TrainingEvent } from '../../src/contract/index.js';
import { buildApp } from '../../src/server/index.js';
import { idleStatus } from '../../src/training/status.js';
import { describeOrSkip } from '../helpers/skip.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { REPO_ROOT } from '../cli/run-cli.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

/**
 * The client is compiled by `npm run build:web` (setup); rebuild here when a source (the client's or the
 * contract's, whose declarations it imports) is newer. Build mode, so a stale contract is rebuilt first;
 * a type error fails the test (tsc exits non-zero) instead of passing on what it emitted anyway.
 */
function ensureDashboardBuilt(): void {
  const out = join(REPO_ROOT, 'dist', 'web', 'app.js');
  const folders = ['client', '../contract'].map((f) => join(REPO_ROOT, 'src', 'web', f));
  const newest = Math.max(...folders.flatMap((dir) => readdirSync(dir).map((f) => statSync(join(dir, f)).mtimeMs)));
  if (existsSync(out) && statSync(out).mtimeMs >= newest) return;
  execFileSync(process.execPath, [
    join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-b',
    join(REPO_ROOT, 'src', 'web', 'tsconfig.json'),
  ]);
}

async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

async function serveApp(workspace: TestWorkspace, apiToken?: string): Promise<{ app: FastifyInstance; url: string }> {
  const config = loadConfig({ path: workspace.configPath });
  const app = await buildApp(config, apiToken ? { apiToken } : {});
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, url: `http://127.0.0.1:${port}/` };
}

async function points(page: Page, chart: string): Promise<number> {
  return Number(await page.getAttribute(`#${chart}`, 'data-points'));
}

async function waitForState(page: Page, states: string[], timeout = 90_000): Promise<void> {
  await page.waitForFunction(
    (wanted) => wanted.includes(document.getElementById('st-state')?.dataset.state ?? ''),
    states,
    { timeout },
  );
}

const noChromium = existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (apt-get install chromium)`;

describeOrSkip('dashboard in chromium', noChromium, () => {
  let browser: Browser;
  beforeAll(async () => {
    ensureDashboardBuilt();
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
  });

  describe('training from the page', () => {
    let workspace: TestWorkspace;
    let server: { app: FastifyInstance; url: string };
    let page: Page;
    const pageErrors: string[] = [];

    beforeAll(async () => {
      // A moving average of the weights, as config.yaml's recipe keeps: the status panel shows its CER too.
      workspace = makeWorkspace({
        names: 'tiny',
        train: 40,
        val: 4,
        batchSize: 2,
        epochs: 200,
        training: { ema_decay: 0.9 },
      });
      server = await serveApp(workspace);
      page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
      page.on('pageerror', (err) => pageErrors.push(err.message));
      await page.goto(server.url);
      await page.waitForSelector('#f-model option[value="tiny"]', { state: 'attached' });
      await page.waitForSelector('#connection[data-state="open"]');
    });
    afterAll(async () => {
      await server?.app.close();
      workspace?.cleanup();
    });

    it('starts a run and draws loss points per step and CER points per epoch', async () => {
      await page.fill('input[name=epochs]', '200');
      await page.click('#btn-start');
      await waitForState(page, ['running']);
      await expect.poll(() => points(page, 'loss-chart'), { timeout: 90_000 }).toBeGreaterThan(25);
      await expect.poll(() => points(page, 'cer-chart'), { timeout: 90_000 }).toBeGreaterThan(1);
      await expect(page.textContent('#st-target')).resolves.toBe('tiny / tiny');
      await expect(page.textContent('#st-epoch')).resolves.toMatch(/^\d+ \/ 200$/);
      await expect(page.textContent('#st-ups')).resolves.toMatch(/^\d+\.\d$/);
      await expect(page.textContent('#st-cer')).resolves.toMatch(
        /^\d+\.\d\d % \(epoch \d+\), moving average \d+\.\d\d %$/,
      );
      // One process: world size 1, no restarts, and no per-rank step times to show.
      await expect(page.textContent('#st-world')).resolves.toBe('1');
      await expect(page.textContent('#st-restarts')).resolves.toBe('0');
      await expect(page.isHidden('#rank-times')).resolves.toBe(true);
      await expect(page.locator('#log').textContent()).resolves.toContain('[info]');
    });

    it('shows the 409 message when a second start is asked for', async () => {
      await page.click('#btn-start');
      await page.waitForSelector('#error:not([hidden])');
      await expect(page.textContent('#error-text')).resolves.toBe(
        '409: Training is already in progress (E_TRAINING_IN_PROGRESS)',
      );
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    });

    it('stops the run and lists the checkpoints with latest and best marks', async () => {
      await page.click('#btn-stop');
      await waitForState(page, ['stopped']);
      await expect.poll(() => page.locator('#checkpoints tbody tr').count()).toBeGreaterThan(1);
      const first = page.locator('#checkpoints tbody tr').first();
      await expect(first.locator('.mark.latest').count()).resolves.toBe(1);
      await expect(page.locator('#checkpoints .mark.best').count()).resolves.toBe(1);
      await expect(first.locator('td').nth(4).textContent()).resolves.toMatch(/^(\d+\.\d\d %|–)$/);
    });

    it('resumes from a chosen row of the table and keeps the curve', async () => {
      const before = await points(page, 'loss-chart');
      const names = await page
        .locator('#checkpoints tbody tr')
        .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.name ?? ''));
      // An older epoch checkpoint than the newest: resuming there is a real choice, not the default.
      const name = names.filter((n) => /^tiny-tiny-epoch-\d+\.pt$/.test(n))[1];
      expect(name, names.join(', ')).toBeDefined();
      await page.locator(`#checkpoints tbody tr[data-name="${name}"] button.resume-here`).click();
      await waitForState(page, ['running', 'starting']);
      await expect.poll(() => page.textContent('#st-resumed'), { timeout: 60_000 }).toBe(name);
      await expect(page.locator('#log').textContent()).resolves.toContain(`resumed from ${name}`);
      // The history of the earlier run stays drawn; the resumed run adds to it.
      expect(await points(page, 'loss-chart')).toBeGreaterThan(Math.min(before, 20));
      await page.click('#btn-stop');
      await waitForState(page, ['stopped']);
      expect(pageErrors).toEqual([]);
    });

    it('flags a checkpoint without a valid sidecar and offers no resume from it', async () => {
      // A .pt whose sidecar was never written: what a crash mid-save leaves behind.
      writeFileSync(join(workspace.checkpointsDir, 'tiny-tiny-epoch-150.pt'), 'not a finished checkpoint');
      await page.click('#btn-refresh');
      const row = page.locator('#checkpoints tbody tr[data-name="tiny-tiny-epoch-150.pt"]');
      await row.waitFor();
      await expect(row.getAttribute('class')).resolves.toContain('invalid');
      await expect(row.locator('.mark.invalid').textContent()).resolves.toMatch(/^invalid: /);
      await expect(row.locator('button.resume-here').isDisabled()).resolves.toBe(true);
    });

    it('shows the 404 message of a checkpoint that does not exist', async () => {
      await page.fill('input[name=specific_checkpoint]', 'tiny-tiny-epoch-999.pt');
      await page.click('#btn-resume');
      await page.waitForSelector('#error:not([hidden])');
      await expect(page.textContent('#error-text')).resolves.toBe(
        "404: Specified checkpoint 'tiny-tiny-epoch-999.pt' not found (E_CHECKPOINT_NOT_FOUND)",
      );
    });
  });

  describe('a data-parallel run', () => {
    let workspace: TestWorkspace;
    let server: { app: FastifyInstance; url: string };
    afterAll(async () => {
      await server?.app.close();
      workspace?.cleanup();
    });

    it("shows the world size, the restarts and each rank's step time with the slowest marked", async () => {
      workspace = makeWorkspace({ names: 'tiny', train: 3, val: 1 });
      server = await serveApp(workspace);
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(server.url);
      await page.waitForSelector('#connection[data-state="open"]');
      // The events a world of 3 reports, fed through the supervisor into the real /ws hub.
      const feed = (event: TrainingEvent) => server.app.supervisor.emit('event', event);
      const status = {
        ...idleStatus(),
        state: 'running' as const,
        run_id: 'run-dp',
        model_name: 'tiny',
        dataset_name: 'tiny',
        epoch: 1,
        epochs: 4,
        world_size: 3,
        restarts: 1,
      };
      const progress = (global_step: number, rank_step_s: number[]): TrainingEvent => ({
        type: 'progress',
        payload: {
          run_id: 'run-dp',
          epoch: 1,
          step: global_step,
          global_step,
          steps_per_epoch: 10,
          loss: 2.5,
          lr: 0.001,
          utterances_per_s: 12,
          rank_step_s,
        },
      });
      feed({ type: 'status', payload: status });
      feed(progress(1, [0.25, 0.5, 0.125]));
      await page.waitForSelector('#rank-times:not([hidden])');
      await expect(page.textContent('#st-world')).resolves.toBe('3');
      await expect(page.textContent('#st-restarts')).resolves.toBe('1');
      const rows = page.locator('#rank-times-list li');
      await expect(rows.count()).resolves.toBe(3);
      await expect(page.getAttribute('#rank-times-list li.slowest', 'data-rank')).resolves.toBe('1');
      await expect(page.textContent('#rank-times-list li.slowest .seconds')).resolves.toBe('0.500 s (slowest)');
      await expect(rows.nth(0).locator('.seconds').textContent()).resolves.toBe('0.250 s');

      // The next step's slowest rank is another one: the mark moves with it.
      feed(progress(2, [0.75, 0.5, 0.125]));
      await page.waitForSelector('#rank-times-list li.slowest[data-rank="0"]');
      await expect(page.locator('#rank-times-list li.slowest').count()).resolves.toBe(1);

      // A restart at world size 2: the old ranks go until the new group reports its first step.
      feed({ type: 'status', payload: { ...status, world_size: 2, restarts: 2 } });
      await page.waitForSelector('#rank-times', { state: 'hidden' });
      await expect(page.textContent('#st-restarts')).resolves.toBe('2');
      feed(progress(3, [0.25, 0.375]));
      await page.waitForSelector('#rank-times:not([hidden])');
      await expect(rows.count()).resolves.toBe(2);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-ranks.png'), fullPage: true });
      expect(errors).toEqual([]);
      await page.close();
    });
  });

  describe('with an API token', () => {
    let workspace: TestWorkspace;
    let server: { app: FastifyInstance; url: string };
    afterAll(async () => {
      await server?.app.close();
      workspace?.cleanup();
    });

    it('asks for the token once on a 401, then loads everything and opens the event stream', async () => {
      workspace = makeWorkspace({ names: 'tiny', train: 3, val: 1 });
      server = await serveApp(workspace, 's3cret-token');
      const page = await browser.newPage();
      await page.goto(server.url);
      await page.waitForSelector('#token-form:not([hidden])');
      await expect(page.textContent('#error-text')).resolves.toContain('401');
      await page.fill('#token-input', 's3cret-token');
      await page.click('#token-form button[type=submit]');
      await expect.poll(() => page.locator('#f-dataset option').allTextContents()).toEqual(['tiny']);
      await page.waitForSelector('#connection[data-state="open"]');
      await expect(page.evaluate(() => sessionStorage.getItem('asr-trainer.token'))).resolves.toBe('s3cret-token');
      await expect(page.isHidden('#token-form')).resolves.toBe(true);
      await page.close();
    });
  });
});
