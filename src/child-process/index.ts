/**
 * Child processes that run the addon: the parent's side (./addon-child.ts), the child's side
 * (./parent-channel.ts) and the error that crosses between them (./error-report.ts). A new kind of child
 * declares its messages in an ipc.ts of its own and uses these.
 */
export * from './addon-child.js';
export * from './error-report.js';
export * from './parent-channel.js';
