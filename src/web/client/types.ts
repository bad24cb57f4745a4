/**
 * The shapes of the HTTP and WebSocket contract (docs/architecture.md §3; the contract itself is in src/contract) as the page reads them: the
 * contract's own types (src/contract), imported as types only so the bundle carries no TypeBox.
 */
export type {
  CheckpointEntry as CheckpointInfo,
  CheckpointPayload as CheckpointEvent,
  LogPayload as LogLine,
  MetricsPayload as EpochMetrics,
  ProgressPayload as Progress,
  RunFailure,
  StatusPayload as TrainStatus,
  TrainingEvent as ServerMessage,
  TrainingState as TrainState,
  TrainRequest as StartRequest,
  TrainStarted as StartResponse,
} from '../../contract/index.js';
