export * from './schema.js';
export * from './models.js';
export * from './hash.js';
export * from './load.js';
export * from './snapshot.js';
