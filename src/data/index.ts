export * from './text.js';
export * from './metadata.js';
export * from './split.js';
export * from './dataset.js';
export * from './skips.js';
