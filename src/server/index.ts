/**
 * The HTTP and WebSocket API (docs/architecture.md §3; the contract itself is in src/contract): `buildApp` (app.ts) wires one plugin per route group
 * (routes/), token auth (auth.ts), the one code → status table (errors.ts), the /ws hub (ws-hub.ts), the
 * Prometheus metrics GET /metrics serves (run-metrics.ts) and the transcription route whose decoding runs
 * in its own child process (routes/transcribe.ts). Training runs in the supervisor's trainer process, never
 * here; `serve` (serve.ts) listens and stops gracefully.
 */
export { buildApp, effectiveApiToken, type BuildAppOptions } from './app.js';
export { serve, type RunningServer, type ServeOptions } from './serve.js';
export { HTTP_STATUS_BY_CODE, errorBody } from './errors.js';
export type { ErrorBody } from '../contract/index.js';
export { WS_CLOSE_TOO_SLOW } from './ws-hub.js';
