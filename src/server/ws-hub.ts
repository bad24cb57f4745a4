import type { WebSocket } from 'ws';
import type { LogPayload, StatusPayload, TrainingEvent } from '../contract/index.js';

export interface WsHubOptions {
  /** Bytes a client may have queued before it counts as too slow and is dropped. */
  maxBufferedBytes?: number;
  /** How long a dropped client gets to receive its close frame before the socket is destroyed. */
  closeGraceMs?: number;
}

/** Close code for a client that fell too far behind (4000-range: application defined). */
export const WS_CLOSE_TOO_SLOW = 4008;

/**
 * Fans training events out to WebSocket clients. `send` never waits on a client: each socket queues in
 * its own buffer and one that has more than `maxBufferedBytes` pending is closed, so a slow reader
 * cannot stall training or the others.
 */
export class WsHub {
  private readonly clients = new Set<WebSocket>();
  private readonly maxBufferedBytes: number;
  private readonly closeGraceMs: number;

  constructor(options: WsHubOptions = {}) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.closeGraceMs = options.closeGraceMs ?? 2000;
  }

  get size(): number {
    return this.clients.size;
  }

  /** Greets a new client with the current status and the recent log lines, then keeps it posted. */
  add(socket: WebSocket, status: StatusPayload, recentLogs: LogPayload[]): void {
    this.clients.add(socket);
    socket.on('close', () => this.clients.delete(socket));
    socket.on('error', () => this.clients.delete(socket));
    this.deliver(socket, JSON.stringify({ type: 'status', payload: status }));
    for (const payload of recentLogs) this.deliver(socket, JSON.stringify({ type: 'log', payload }));
  }

  broadcast(event: TrainingEvent): void {
    if (this.clients.size === 0) return;
    const text = JSON.stringify(event);
    for (const socket of this.clients) this.deliver(socket, text);
  }

  closeAll(code = 1001, reason = 'server shutting down'): void {
    for (const socket of this.clients) socket.close(code, reason);
    this.clients.clear();
  }

  private deliver(socket: WebSocket, text: string): void {
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > this.maxBufferedBytes) {
      this.drop(socket);
      return;
    }
    socket.send(text);
  }

  private drop(socket: WebSocket): void {
    this.clients.delete(socket);
    socket.close(WS_CLOSE_TOO_SLOW, 'client too slow: more than the buffer limit of events pending');
    // The close frame queues behind the backlog; a reader that never drains it is cut off.
    setTimeout(() => socket.terminate(), this.closeGraceMs).unref();
  }
}
