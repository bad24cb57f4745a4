/** The native addon: its loader (./load.ts) and the types of its whole surface (./types.ts). */
export { addonCandidates, likelyFix, loadNative, nativeLoadError } from './load.js';
export type * from './types.js';
