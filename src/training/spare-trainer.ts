/**
 * A trainer process started before anyone asks for a run (the server keeps one while idle, for world size
 * 1; `server.prestart_trainer`). A fresh trainer spends its first ~1.6 s (2-core VM) starting Node, importing
 * the training modules and loading LibTorch; the spare has done that while nothing waited, so a start or a
 * resume begins with the run's own work.
 *
 * It was forked before the folder lock existed, so it cannot inherit the lock as a trainer forked per run
 * does: its descriptor TRAINER_LOCK_FD is one end of a Unix socket pair instead, and the supervisor sends a
 * copy of the lock's descriptor over the other end (SCM_RIGHTS) just before the `start` message. Both then
 * hold the same open file, and so the same kernel lock, exactly as after an inheritance.
 *
 * A fresh process also page-faults in every page its checkpoint load and first steps allocate (xs on the
 * 2-core VM: ~110k faults, ~1.2 s). The spare pages in as much heap as the last run ended with and keeps it
 * (the trainer's allocator keeps freed memory), so an idle server holds that much memory for its next run;
 * `server.prestart_trainer: false` gives it back.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { loadNative } from '../native/index.js';
import { WARM_HEAP_ENV } from './ipc.js';
import { forkTrainer } from './worker-process.js';

/** The most a spare pages in ahead (a few seconds of page faults on these VMs, and as much memory held). */
const MAX_WARM_HEAP_BYTES = 4 * 2 ** 30;

export class SpareTrainer {
  private exited = false;

  private constructor(
    private readonly process: ChildProcess,
    /** Our end of the lock channel; -1 once closed. */
    private channel: number,
  ) {
    process.once('exit', () => {
      this.exited = true;
      this.closeChannel();
    });
    // A spare that fails to start is only a lost head start: the run forks a trainer of its own.
    process.on('error', () => undefined);
  }

  /** `warmHeapBytes`: the last run's heap at its end (0: none known, nothing to warm). */
  static start(env: NodeJS.ProcessEnv, warmHeapBytes = 0): SpareTrainer {
    const [keep, give] = loadNative().descriptorChannel();
    const warm = Math.min(Math.max(0, Math.round(warmHeapBytes)), MAX_WARM_HEAP_BYTES);
    try {
      return new SpareTrainer(forkTrainer({ ...env, [WARM_HEAP_ENV]: String(warm) }, give), keep);
    } catch (err) {
      closeSync(keep);
      throw err;
    } finally {
      // The child has its own copy now (or none, when the fork failed).
      closeSync(give);
    }
  }

  get pid(): number | null {
    return this.process.pid ?? null;
  }

  /**
   * Hands the lock (descriptor `lockFd`) to the spare and returns its process, now the run's trainer, which
   * the caller sends `start` with `sentLockPath`; null when the spare is gone (the caller forks a trainer).
   * Either way this SpareTrainer is used up.
   */
  take(lockFd: number): ChildProcess | null {
    if (this.exited || !this.process.connected || this.channel < 0) {
      this.discard();
      return null;
    }
    try {
      loadNative().sendDescriptor(this.channel, lockFd);
    } catch {
      this.discard();
      return null;
    } finally {
      // Closing our end keeps what was sent readable at the other end.
      this.closeChannel();
    }
    return this.process;
  }

  /** Ends a spare that will not be used (server shutdown, a run that needs a world of workers). */
  discard(): void {
    this.closeChannel();
    if (!this.exited && this.process.exitCode === null && this.process.signalCode === null)
      this.process.kill('SIGKILL');
  }

  private closeChannel(): void {
    if (this.channel < 0) return;
    closeSync(this.channel);
    this.channel = -1;
  }
}
