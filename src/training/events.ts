/**
 * Building the events a training run reports. Their shapes are the contract's (src/contract/events.ts):
 * the same objects travel from the run to the supervisor (IPC) and on to the WebSocket clients.
 */
import type { LogLevel, TrainingEvent } from '../contract/index.js';

export function logEvent(level: LogLevel, message: string): TrainingEvent {
  return { type: 'log', payload: { level, message, timestamp: new Date().toISOString() } };
}
