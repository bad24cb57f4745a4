/**
 * Corrupt files: each kind of damage to the newest checkpoint (or its sidecar, or the latest link) is
 * flagged by the listing, skipped with a warning naming it by auto-resume, refused with a 4xx by an
 * explicit resume, and never crashes the server.
 */
import {
  cpSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { EventStream, get, post, startServer, type TestServer, type Json } from '../server/client.js';
import { recordFigures } from './summary.js';
import { AddonLoader, checkFolder } from './helpers.js';

const NEWEST = 'conformer-ljspeech-epoch-3.pt';
const PREVIOUS = 'conformer-ljspeech-epoch-2.pt';
const LATEST = 'conformer-ljspeech-latest.pt';

interface Damage {
  name: string;
  /** The file the listing must flag (null: a link, which the listing does not show as a checkpoint). */
  flagged: string | null;
  apply(dir: string, root: string): void;
}

function overwrite(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

function editSidecar(dir: string, edit: (s: Record<string, unknown>) => void): void {
  const path = join(dir, `${NEWEST}.json`);
  const sidecar = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(sidecar);
  writeFileSync(path, JSON.stringify(sidecar, null, 2));
}

const DAMAGES: Damage[] = [
  {
    name: 'truncated to half',
    flagged: NEWEST,
    apply: (dir) => truncateSync(join(dir, NEWEST), Math.floor(statSync(join(dir, NEWEST)).size / 2)),
  },
  { name: 'truncated to nothing', flagged: NEWEST, apply: (dir) => truncateSync(join(dir, NEWEST), 0) },
  {
    name: 'bytes flipped in the middle (same size)',
    flagged: NEWEST,
    apply: (dir) => {
      const path = join(dir, NEWEST);
      const middle = Math.floor(statSync(path).size / 2);
      const original = readFileSync(path).subarray(middle, middle + 16);
      overwrite(path, middle, Buffer.from(original.map((b) => b ^ 0xff)));
    },
  },
  {
    name: 'zeroed (same size)',
    flagged: NEWEST,
    apply: (dir) => overwrite(join(dir, NEWEST), 0, Buffer.alloc(statSync(join(dir, NEWEST)).size)),
  },
  {
    name: "replaced with another model's checkpoint",
    flagged: NEWEST,
    apply: (dir) => cpSync(join(dir, 'conformer-ref-ljspeech-epoch-1.pt'), join(dir, NEWEST)),
  },
  {
    name: "replaced with another model's checkpoint and sidecar",
    flagged: NEWEST,
    apply: (dir) => {
      cpSync(join(dir, 'conformer-ref-ljspeech-epoch-1.pt'), join(dir, NEWEST));
      cpSync(join(dir, 'conformer-ref-ljspeech-epoch-1.pt.json'), join(dir, `${NEWEST}.json`));
    },
  },
  { name: 'sidecar deleted', flagged: NEWEST, apply: (dir) => unlinkSync(join(dir, `${NEWEST}.json`)) },
  {
    name: 'sidecar not JSON',
    flagged: NEWEST,
    apply: (dir) => writeFileSync(join(dir, `${NEWEST}.json`), '{"name": "conformer-lj'),
  },
  { name: 'sidecar empty', flagged: NEWEST, apply: (dir) => writeFileSync(join(dir, `${NEWEST}.json`), '') },
  {
    name: 'sidecar sha256 falsified',
    flagged: NEWEST,
    apply: (dir) => editSidecar(dir, (s) => (s.sha256 = 'ab'.repeat(32))),
  },
  {
    name: 'sidecar size falsified',
    flagged: NEWEST,
    apply: (dir) => editSidecar(dir, (s) => (s.size = (s.size as number) + 1)),
  },
  { name: 'sidecar epoch falsified', flagged: NEWEST, apply: (dir) => editSidecar(dir, (s) => (s.epoch = 7)) },
  { name: 'sidecar step a string', flagged: NEWEST, apply: (dir) => editSidecar(dir, (s) => (s.global_step = 'many')) },
  {
    name: 'sidecar with __proto__ key',
    flagged: null,
    apply: (dir) =>
      writeFileSync(
        join(dir, `${NEWEST}.json`),
        readFileSync(join(dir, `${NEWEST}.json`), 'utf8').replace(
          '{',
          '{"__proto__": {"valid": false, "sha256": "00"},',
        ),
      ),
  },
  {
    name: 'latest points at nothing',
    flagged: null,
    apply: (dir) => {
      unlinkSync(join(dir, LATEST));
      symlinkSync('conformer-ljspeech-epoch-99.pt', join(dir, LATEST));
    },
  },
  {
    name: 'latest points outside the folder',
    flagged: null,
    apply: (dir, root) => {
      cpSync(join(dir, NEWEST), join(root, 'outside.pt'));
      unlinkSync(join(dir, LATEST));
      symlinkSync('../outside.pt', join(dir, LATEST));
    },
  },
  {
    name: 'the newest checkpoint replaced by a folder',
    flagged: null,
    apply: (dir) => {
      unlinkSync(join(dir, NEWEST));
      cpSync(join(dir, PREVIOUS), join(dir, NEWEST, 'inner.pt'));
    },
  },
];

describe('corrupt checkpoint files', () => {
  let workspace: TestWorkspace;
  let server: TestServer;
  let events: EventStream;
  let pristine: string;
  const loader = new AddonLoader();
  const figures = { damages: 0, listings_checked: 0, explicit_resumes_refused: 0, auto_resume_fallbacks: 0 };

  beforeAll(async () => {
    workspace = makeWorkspace({ train: 8, val: 2, batchSize: 4, epochs: 3, retention: 0 });
    server = await startServer(workspace);
    events = await EventStream.open(server.wsUrl);
    for (const model of ['conformer', 'conformer-ref']) {
      const from = events.messages.length;
      const run = await post(server.url, '/api/train/start', {
        model_name: model,
        dataset_name: 'ljspeech',
        epochs: model === 'conformer' ? 3 : 1,
      });
      expect(run.status).toBe(202);
      const end = await events.waitForState(['completed', 'failed', 'stopped'], from);
      expect(end.payload.state, JSON.stringify(end.payload.error ?? {})).toBe('completed');
    }
    pristine = join(workspace.root, 'pristine');
    cpSync(workspace.checkpointsDir, pristine, { recursive: true, verbatimSymlinks: true });
  });
  afterAll(async () => {
    events?.close();
    await server?.close();
    workspace?.cleanup();
    recordFigures('corrupt_files', { ...figures, checkpoints_loaded_in_addon: loader.count });
  });

  /** Ends the run just started without waiting for it to train (the 202 already shows what it resumed). */
  async function endRun(): Promise<void> {
    const from = events.messages.length;
    const pid = server.app.supervisor.trainerPid;
    if (pid === null) return;
    process.kill(pid, 'SIGKILL');
    await server.app.supervisor.waitForExit();
    // The /ws copy of the final status arrives after the supervisor's own; later waits must not see it.
    await events.waitForState(['failed', 'stopped', 'completed'], from);
  }

  function restore(): void {
    rmSync(workspace.checkpointsDir, { recursive: true, force: true });
    rmSync(join(workspace.root, 'outside.pt'), { force: true });
    cpSync(pristine, workspace.checkpointsDir, { recursive: true, verbatimSymlinks: true });
  }

  for (const damage of DAMAGES) {
    it(`${damage.name}: flagged, skipped with a warning, refused when named, nothing crashes`, async () => {
      // A run a failed case left behind must not hold the folder.
      if (server.app.supervisor.isBusy()) server.app.supervisor.stop();
      await server.app.supervisor.waitForExit();
      restore();
      damage.apply(workspace.checkpointsDir, workspace.root);
      figures.damages += 1;

      const listing = await get(server.url, '/api/checkpoints?model_name=conformer');
      expect(listing.status, JSON.stringify(listing.body)).toBe(200);
      figures.listings_checked += 1;
      const rows = listing.body.checkpoints as Array<Json>;
      if (damage.flagged) {
        const row = rows.find((r) => r.name === damage.flagged);
        expect(row, `${damage.flagged} missing from the listing`).toBeDefined();
        expect(row).toMatchObject({ valid: false });
        expect(row!.problem).toEqual(expect.any(String));
      }
      if (damage.name.startsWith('latest')) {
        expect(listing.body.broken_links).toEqual([
          expect.objectContaining({ name: LATEST, valid: false, problem: expect.any(String) }),
        ]);
      } else {
        expect(listing.body.broken_links).toEqual([]);
      }
      // Nothing listed valid is damaged: each loads in the addon and matches its sidecar.
      const check = await checkFolder(workspace.checkpointsDir, loader);
      expect(check.valid.map((e) => e.name)).toContain(PREVIOUS);
      for (const row of rows.filter((r) => r.valid)) expect(check.valid.map((e) => e.name)).toContain(row.name);

      // Naming the damaged file (or link) explicitly: a 4xx error that names it, no run.
      const named = damage.name.startsWith('latest') ? LATEST : NEWEST;
      const explicit = await post(server.url, '/api/train/resume', {
        model_name: 'conformer',
        dataset_name: 'ljspeech',
        epochs: 4,
        specific_checkpoint: named,
      });
      if (damage.flagged !== null || damage.name.startsWith('latest') || damage.name.includes('folder')) {
        expect([409, 422], JSON.stringify(explicit.body)).toContain(explicit.status);
        expect(explicit.body).toMatchObject({ statusCode: explicit.status, code: expect.any(String) });
        expect(explicit.body.message).toContain(named);
        figures.explicit_resumes_refused += 1;
      }
      if (explicit.status === 202) {
        // Only a checkpoint that is in fact sound (an unknown sidecar key changes nothing) may start.
        expect(damage.flagged, 'a run started from a damaged checkpoint').toBeNull();
        expect(explicit.body.resumed_from).toBe(NEWEST);
        await endRun();
      }
      expect(server.app.supervisor.isBusy()).toBe(false);

      // Auto-resume: the newest sound checkpoint, with a warning naming the damaged one when it was skipped.
      const from = events.messages.length;
      const auto = await post(server.url, '/api/train/start', {
        model_name: 'conformer',
        dataset_name: 'ljspeech',
        epochs: 4,
      });
      expect(auto.status, JSON.stringify(auto.body)).toBe(202);
      if (damage.flagged) {
        expect(auto.body.resumed_from).toBe(PREVIOUS);
        expect(auto.body.warnings.join('\n')).toContain(damage.flagged);
        await events.waitFor(
          (m) => m.type === 'log' && m.payload.level === 'warning' && m.payload.message.includes(damage.flagged!),
          10_000,
          from,
        );
        figures.auto_resume_fallbacks += 1;
      } else if (damage.name.startsWith('latest')) {
        // The newest checkpoint is found by scanning, not through the link, and the broken link is named.
        expect(auto.body.resumed_from).toBe(NEWEST);
        expect(auto.body.warnings.join('\n')).toContain(LATEST);
        figures.auto_resume_fallbacks += 1;
      } else {
        expect([NEWEST, PREVIOUS]).toContain(auto.body.resumed_from);
      }
      if (damage === DAMAGES[0]) {
        // Once, the whole way: the fallback trains to the end and commits a sound epoch-3 again.
        const end = await events.waitForState(['completed', 'failed', 'stopped'], from);
        expect(end.payload.state, JSON.stringify(end.payload.error ?? {})).toBe('completed');
      } else {
        await endRun();
      }
      expect((await get(server.url, '/api/health')).status).toBe(200);
      await checkFolder(workspace.checkpointsDir, loader);
    });
  }
});
