export { buildApp, effectiveApiToken, type BuildAppOptions } from './app.js';
export { serve, type RunningServer, type ServeOptions } from './serve.js';
export { HTTP_STATUS_BY_CODE, errorBody } from './errors.js';
export type { ErrorBody } from '../contract/index.js';
export { WS_CLOSE_TOO_SLOW } from './ws-hub.js';
