/**
 * Child processes that run the addon: the parent's side (./addon-child.ts), the child's side
 * (./parent-channel.ts), the error that crosses between them (./error-report.ts), and where a forked
 * entry file is with the environment it starts with (./fork-entry.ts). A new kind of child
 * declares its messages in an ipc.ts of its own and uses these.
 */
export * from './addon-child.js';
export * from './error-report.js';
export * from './fork-entry.js';
export * from './parent-channel.js';
