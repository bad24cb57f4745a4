/**
 * Suites and tests that need what a machine may lack (root, chromium, an addon built with c10d). vitest's
 * skipIf says nothing about why; here a stand-in test skips with the reason, so the output says it.
 */
import { describe, it, type TestFunction } from 'vitest';

/** What this machine lacks for a suite or test, or null when it has everything. */
export type SkipReason = string | null;

/** `describe(name, body)`, or, when `skipReason` is set, the suite skipped and the reason printed. */
export function describeOrSkip(name: string, skipReason: SkipReason, body: () => void): void {
  if (skipReason === null) {
    describe(name, body);
    return;
  }
  it(name, (context) => context.skip(`skipped: ${skipReason}`));
  describe.skip(name, body);
}

/** `it(name, fn, timeout)`, or, when `skipReason` is set, a test that skips with the reason. */
export function itOrSkip(name: string, skipReason: SkipReason, fn: TestFunction, timeout?: number): void {
  if (skipReason === null) it(name, fn, timeout);
  else it(name, (context) => context.skip(`skipped: ${skipReason}`));
}

/** Null when this process runs as root; otherwise that `what` needs root. */
export function unlessRoot(what: string): SkipReason {
  const uid = process.getuid?.();
  return uid === 0 ? null : `${what} needs root (this runs as uid ${uid})`;
}
