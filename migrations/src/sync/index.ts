/** The sync engine: capture, relay, apply, backfill, reconcile. See README.md in this folder. */
export { type ApplyOutcome, applyRow } from './apply.ts';
export { ApplyWorker, type ApplyWorkerOptions, type ApplyWorkerStats } from './apply-worker.ts';
export {
  type BackfillOptions,
  type BackfillProgress,
  type BackfillResult,
  type BackfillTableResult,
  runBackfill,
} from './backfill.ts';
export { canonicalRow, canonicalValue, diffByKey, digestOf, type KeyDiff } from './canonical.ts';
export {
  DEAD_LETTERS_TABLE,
  installCapture,
  isCaptureInstalled,
  OUTBOX_TABLE,
  outboxInstanceOf,
  type RemoveCaptureOptions,
  removeCapture,
} from './capture.ts';
export {
  jobIdOf,
  queueNameOf,
  queuePrefixOf,
  type Row,
  reverseChannel,
  type SyncChannel,
  type SyncDirection,
  type SyncMapping,
  type TableRef,
  validateChannel,
} from './channel.ts';
export { openSyncDatabases, type SyncDatabases } from './databases.ts';
export { type DeadLetter, listDeadLetters, retryDeadLetters } from './dead-letters.ts';
export { PoisonRowError, SyncConfigError } from './errors.ts';
export { type CaptureLag, captureLag, pruneOutbox } from './outbox.ts';
export { type Rate, rateOf } from './progress.ts';
export { type ApplyJobData, type ApplyJobOptions, DEFAULT_APPLY_JOB_OPTIONS, openSyncQueue } from './queue.ts';
export {
  type ReconcileOptions,
  type ReconcileProgress,
  type ReconcileReport,
  reconcile,
  type TableDrift,
} from './reconcile.ts';
export { OutboxRelay, type OutboxRelayOptions, type OutboxRelayStats } from './relay.ts';
export { handOverSequences, type SequenceHandover } from './sequences.ts';
export { type BackfillCheckpoint, backfillStatus, SYNC_STATE_TABLE } from './sync-state.ts';
