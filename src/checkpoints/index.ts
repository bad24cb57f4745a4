/** The checkpoint store: what the trainer writes with and the server reads with. */
export {
  CheckpointStore,
  type CheckpointEntry,
  type CheckpointLogger,
  type CheckpointStoreOptions,
  type CommitRequest,
  type CommitResult,
  type ListFilter,
  type ResolveRequest,
  type ResolvedCheckpoint,
  type RetainRequest,
} from './store.js';
export {
  MAX_NAME_LENGTH,
  NAME_PATTERN,
  checkpointName,
  linkName,
  lockFileName,
  parseCheckpointName,
  sidecarName,
  validateDatasetName,
  validateModelName,
  validatePlainFileName,
  type CheckpointKind,
  type LinkRole,
  type ParsedCheckpointName,
} from './names.js';
export {
  SIDECAR_FORMAT_VERSION,
  parseSidecar,
  serializeSidecar,
  type CheckpointMetrics,
  type CheckpointSidecar,
  type ModelConfigRecord,
  type SidecarCheck,
} from './sidecar.js';
export { checkResumeCompatibility, type ResumeCompatibility, type ResumeSettings } from './compat.js';
export { type CheckpointLock, type LockOwner } from './lock.js';
export { sha256File, writeFileAtomic } from './files.js';
