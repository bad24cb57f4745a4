/**
 * The native addon: its loader (./load.ts), the allocator choice it is handed (./allocator.ts) and the types
 * of its whole surface (./types.ts).
 */
export { allocatorTuningWanted } from './allocator.js';
export { addonCandidates, likelyFix, loadNative, nativeLoadError } from './load.js';
export type * from './types.js';
