/**
 * The contract: every shape that crosses a boundary (HTTP body, WebSocket event, trainer IPC, CLI to
 * training) defined once, as a TypeBox schema with its `Static<>` type. Routes validate and document with
 * the schemas; the rest of the code, the dashboard included (`import type` only, so the browser bundle
 * carries no TypeBox), uses the types. docs/architecture.md §3 says which boundary each crosses.
 */
export * from './checkpoints.js';
export * from './datasets.js';
export * from './errors.js';
export * from './events.js';
export * from './names.js';
export * from './status.js';
export * from './train.js';
export * from './transcribe.js';
