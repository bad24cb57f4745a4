/** Starts each chaos run with an empty summary and prints the figures at the end. */
import { rmSync } from 'node:fs';
import { SUMMARY_PATH, readSummary } from './summary.js';

export function setup(): void {
  rmSync(SUMMARY_PATH, { force: true });
}

export function teardown(): void {
  const summary = { finished_at: new Date().toISOString(), ...readSummary() };
  console.log(`\nChaos summary (${SUMMARY_PATH}):\n${JSON.stringify(summary, null, 2)}`);
}
