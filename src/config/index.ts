/**
 * config.yaml (config.yaml, commented; docs/architecture.md §4): the schema with its defaults (schema.ts), loading with paths resolved
 * against the file's folder and errors naming the key path (load.ts), model presets and explicit
 * dimensions (models.ts), and the run's config snapshot and hash that checkpoints record (snapshot.ts,
 * hash.ts). Nothing here touches the addon or the disk beyond reading the file.
 */
export * from './schema.js';
export * from './models.js';
export * from './hash.js';
export * from './load.js';
export * from './snapshot.js';
