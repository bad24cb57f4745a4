/**
 * The one log interface: a function of a level and a line. The levels are the contract's, since a line
 * logged anywhere may end up in a `log` event on the WebSocket. A leaf module (it imports one type), so
 * any part can take a Log without importing the part that made it.
 */
import type { LogLevel } from './contract/events.js';

export type { LogLevel };

export type Log = (level: LogLevel, message: string) => void;

/** For a part given no Log: warnings and errors still reach stderr, the rest is dropped. */
export const warningsToStderr: Log = (level, message) => {
  if (level === 'warning' || level === 'error') console.warn(message);
};

/** A logger with a method per level: Fastify's (pino) and `console` are ones. */
export interface LevelledLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** A Log that writes to `logger` (the server's log, for the parts the server runs). */
export function logTo(logger: LevelledLogger): Log {
  return (level, message) => {
    if (level === 'warning') logger.warn(message);
    else logger[level](message);
  };
}
