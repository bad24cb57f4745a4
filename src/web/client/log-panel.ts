/** The log pane: the server's `log` events and the page's own notes, oldest dropped past a cap. */

import { element } from './dom.js';
import type { LogLine } from './types.js';

const MAX_LOG_LINES = 500;

export class LogPanel {
  private readonly pane = element('log');

  /** A line the page itself reports (an action's answer, a failed request). */
  note(level: LogLine['level'], message: string): void {
    this.append({ level, message, timestamp: new Date().toISOString() });
  }

  append(line: LogLine): void {
    const pane = this.pane;
    // Follow new lines only when the reader has not scrolled up.
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
}
