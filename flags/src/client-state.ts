/**
 * What a flag client knows about its own flags, for /ready, metrics and logs.
 * Derived from a few timestamps by a pure function, so the rules are tested
 * without a server.
 */

export type FlagClientState =
  /** Unleash answered within the last 3 refresh intervals. */
  | { kind: 'fresh'; updatedAt: Date }
  /** Unleash answered before but not lately; serving what it said last (at `updatedAt`). */
  | { kind: 'stale'; since: Date; lastError: string; updatedAt: Date }
  /** Unleash never answered; serving the backup file (written at `savedAt`) or the bootstrap flags. */
  | { kind: 'bootstrap-only'; source: 'bootstrap' | 'backup'; savedAt: Date | null; lastError: string | null }
  /** Nothing known: every route goes to the monolith. */
  | { kind: 'none'; lastError: string | null };

export type FlagClientStateKind = FlagClientState['kind'];

export interface ConnectionHistory {
  /** Where the flags served before Unleash answered came from. */
  initialSource: 'bootstrap' | 'backup' | null;
  backupSavedAt: Date | null;
  /** Epoch ms of the last answer from Unleash (200 or 304). */
  lastSuccessAt: number | null;
  /** Epoch ms of the first failure since the last answer. */
  failingSince: number | null;
  lastError: string | null;
}

export const STALE_AFTER_INTERVALS = 3;

export function deriveState(history: ConnectionHistory, now: number, staleAfterMs: number): FlagClientState {
  const { lastSuccessAt, failingSince, lastError } = history;
  if (lastSuccessAt === null) {
    if (history.initialSource === null) return { kind: 'none', lastError };
    return { kind: 'bootstrap-only', source: history.initialSource, savedAt: history.backupSavedAt, lastError };
  }
  const updatedAt = new Date(lastSuccessAt);
  if (now - lastSuccessAt <= staleAfterMs) return { kind: 'fresh', updatedAt };
  // Stale from the first failure, or at the latest from when the answer got too old
  // (a hanging request, or a failure reported only after the client's retries):
  // `since` never moves forward while the flags stay stale.
  const since = new Date(Math.min(failingSince ?? Number.POSITIVE_INFINITY, lastSuccessAt + staleAfterMs));
  return {
    kind: 'stale',
    since,
    updatedAt,
    lastError: lastError ?? `no answer from Unleash since ${updatedAt.toISOString()}`,
  };
}

/** One line for logs and the CLI, e.g. "stale since 12:00:01Z (connect ECONNREFUSED)". */
export function describeState(state: FlagClientState, now = Date.now()): string {
  const ago = (date: Date): string => `${((now - date.getTime()) / 1000).toFixed(1)} s ago`;
  switch (state.kind) {
    case 'fresh':
      return `fresh (Unleash answered ${ago(state.updatedAt)})`;
    case 'stale':
      return `stale since ${state.since.toISOString()} (${state.lastError}); serving the flags of ${state.updatedAt.toISOString()}`;
    case 'bootstrap-only':
      return `bootstrap-only: Unleash not reached yet, serving the ${state.source}${
        state.savedAt ? ` saved ${state.savedAt.toISOString()}` : ''
      }${state.lastError ? ` (${state.lastError})` : ''}`;
    case 'none':
      return `none: no flags known, every route goes to the monolith${state.lastError ? ` (${state.lastError})` : ''}`;
  }
}
