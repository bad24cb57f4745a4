/** The /ws event stream, reconnecting with back-off: the server may restart while a page stays open. */

import { apiUrl, getToken } from './api.js';
import type { ServerMessage } from './types.js';

export type ConnectionState = 'connecting' | 'open' | 'closed';

export class EventStream {
  private socket: WebSocket | null = null;
  private retryMs = 500;
  private timer: number | undefined;
  private stopped = false;

  constructor(
    private readonly onMessage: (message: ServerMessage) => void,
    private readonly onState: (state: ConnectionState) => void,
  ) {}

  connect(): void {
    this.stopped = false;
    window.clearTimeout(this.timer);
    this.socket?.close();
    const url = apiUrl('ws');
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // Browsers cannot set headers on a WebSocket handshake, so the token travels in the query.
    const token = getToken();
    if (token) url.searchParams.set('token', token);
    this.onState('connecting');
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => {
      this.retryMs = 500;
      this.onState('open');
    };
    socket.onmessage = (event) => {
      let message: ServerMessage;
      try {
        message = JSON.parse(String(event.data)) as ServerMessage;
      } catch {
        return;
      }
      this.onMessage(message);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.onState('closed');
      if (this.stopped) return;
      this.timer = window.setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }

  close(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
    this.socket?.close();
  }
}
