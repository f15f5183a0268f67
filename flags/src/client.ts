import { EventEmitter } from 'node:events';
import { requireSecret } from '@strangler/foundation';
import { type ClientFeaturesResponse, Unleash, UnleashEvents } from 'unleash-client';
import { type FeatureDefinitions, readBackupFile, writeBackupFile } from './backup-file.ts';
import {
  type ConnectionHistory,
  deriveState,
  describeState,
  type FlagClientState,
  STALE_AFTER_INTERVALS,
} from './client-state.ts';
import { CLIENT_TOKEN_DOC, DEFAULT_BACKUP_PATH, resolveFromRoot } from './config.ts';
import { type FlagSnapshot, MONOLITH_ONLY, sameSnapshot, snapshotFromToggles } from './snapshot.ts';

export type { FlagClientState, FlagClientStateKind } from './client-state.ts';
export { describeState } from './client-state.ts';

/**
 * What the router needs from the flags, and all it may depend on. Nothing in
 * it waits on the network: `snapshot()` answers from memory, always.
 */
export interface FlagSource {
  /** The flags to route by now: the last ones known, or MONOLITH_ONLY when none are. */
  snapshot(): FlagSnapshot;
  /** How current `snapshot()` is, for /ready and metrics. */
  state(): FlagClientState;
  /** Calls `listener` after every change of `snapshot()`; returns the unsubscribe function. */
  onChange(listener: (snapshot: FlagSnapshot) => void): () => void;
  close(): Promise<void>;
}

/** The real source: a FlagSource over unleash-client, plus a start-up helper. */
export interface FlagClient extends FlagSource {
  /**
   * Resolves true once Unleash has answered (now or later), false after
   * `timeoutMs`. For start-up only ("wait briefly, then serve anyway").
   */
  whenFresh(timeoutMs: number): Promise<boolean>;
}

/** The subset of a pino logger the client uses. */
export interface FlagClientLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface FlagClientOptions {
  /** Unleash's base URL, e.g. http://127.0.0.1:4242 (no /api). */
  url: string;
  /** A backend (client) API token for project default, environment development. */
  clientToken: string;
  /** Shown in Unleash as the application name; default "strangler". */
  appName?: string;
  /** Poll interval; the flags count as fresh while Unleash answered within 3 of them. */
  refreshMs: number;
  /**
   * Last-known-good flags: read at start, rewritten after each change from
   * Unleash. Default: `.strangler/flags-backup.json` under the repository root.
   */
  backupPath?: string | undefined;
  /** Flags to serve before Unleash answers when there is no backup file (Unleash's client API format). */
  bootstrap?: FeatureDefinitions;
  /** Per request to Unleash; default max(2 s, 2 refresh intervals). */
  requestTimeoutMs?: number;
  /** After Unleash rejects the token, unleash-client stops polling; we start it again after this. Default 30 s. */
  authRetryMs?: number;
  /** A pino logger fits; the client logs state transitions and flag changes, not every poll. */
  logger?: FlagClientLog;
}

const SILENT: FlagClientLog = { info() {}, warn() {} };

/**
 * Starts a flag client and returns at once: the first snapshot comes from the
 * backup file, else `bootstrap`, else MONOLITH_ONLY; Unleash's answers replace
 * it as they arrive. An unreachable or failing Unleash never throws here or
 * later: it shows in `state()` and the last flags stay in force.
 *
 * The backup and bootstrap are loaded here rather than through
 * unleash-client's `bootstrap` option: that one emits the same "changed"
 * event as a real answer (so "fresh" could not be told from "bootstrapped"),
 * and it races the backup file. unleash-client gets them through its
 * StorageProvider port instead, which also writes the backup after each change.
 */
export function createFlagClient(options: FlagClientOptions): FlagClient {
  // Production has no development token: an unset one is refused at start.
  requireSecret(options.clientToken, 'UNLEASH_CLIENT_TOKEN', CLIENT_TOKEN_DOC);
  const log = options.logger ?? SILENT;
  const backupPath = options.backupPath ?? resolveFromRoot(DEFAULT_BACKUP_PATH);
  const staleAfterMs = STALE_AFTER_INTERVALS * options.refreshMs;
  const history: ConnectionHistory = {
    initialSource: null,
    backupSavedAt: null,
    lastSuccessAt: null,
    failingSince: null,
    lastError: null,
  };
  let known: ClientFeaturesResponse | undefined;

  const backup = readBackupFile(backupPath);
  if (backup.kind === 'found') {
    known = { version: 2, features: backup.backup.features, segments: backup.backup.segments };
    history.initialSource = 'backup';
    history.backupSavedAt = backup.backup.savedAt;
  } else {
    if (backup.kind === 'unreadable') {
      log.warn(`ignoring the flag backup ${backupPath}: ${backup.reason}`);
    }
    if (options.bootstrap) {
      known = { version: 2, features: options.bootstrap, segments: [] };
      history.initialSource = 'bootstrap';
    }
  }
  let current: FlagSnapshot = known ? snapshotFromToggles(known.features) : MONOLITH_ONLY;

  const listeners = new Set<(snapshot: FlagSnapshot) => void>();
  const internal = new EventEmitter();
  let closed = false;
  let backupWarning: string | null = null;
  let retryTimer: NodeJS.Timeout | undefined;

  const storageProvider = {
    // Hands unleash-client what we serve, so its repository starts where we do.
    get: async () => known,
    // Never throws: a full disk must not look like Unleash failing (that would mark the flags stale).
    set: async (_key: string, data: ClientFeaturesResponse) => {
      try {
        await writeBackupFile(backupPath, data);
        backupWarning = null;
      } catch (err) {
        const message = `cannot write the flag backup ${backupPath}: ${(err as Error).message}`;
        if (message !== backupWarning) log.warn(message);
        backupWarning = message;
      }
    },
  };

  const recordSuccess = (): void => {
    if (history.failingSince !== null || history.lastSuccessAt === null) {
      log.info(`flags: Unleash at ${options.url} answered; the flags are fresh`);
    }
    history.lastSuccessAt = Date.now();
    history.failingSince = null;
    history.lastError = null;
    internal.emit('success');
  };

  const recordFailure = (problem: unknown): void => {
    const message = failureMessage(problem, options.url);
    if (history.failingSince === null) {
      history.failingSince = Date.now();
      log.warn(`flags: ${message}; ${describeState(deriveState(history, Date.now(), staleAfterMs))}`);
    }
    history.lastError = message;
  };

  const applyDefinitions = (features: FeatureDefinitions): void => {
    known = { version: 2, features, segments: [] };
    const next = snapshotFromToggles(features);
    if (sameSnapshot(next, current)) return;
    current = next;
    log.info(`flags: changed to ${JSON.stringify(next)}`);
    for (const listener of listeners) {
      try {
        listener(next);
      } catch (err) {
        log.warn(`flags: an onChange listener threw: ${(err as Error).message}`);
      }
    }
  };

  let unleash: Unleash;

  /**
   * unleash-client's destroy() removes every listener from its repository, but
   * a fetch already in flight still reports its failure there; with no
   * listener, EventEmitter throws it as an unhandled rejection. Keep one
   * listener that drops those late errors.
   */
  const destroy = (instance: Unleash): void => {
    instance.destroy();
    const repository = (instance as unknown as { repository?: { on?: (event: string, fn: () => void) => void } })
      .repository;
    repository?.on?.('error', () => {});
  };

  // unleash-client stops polling for good after a 401/403; poll again later in
  // case the token gets created or fixed on the server.
  const scheduleRestart = (): void => {
    if (retryTimer || closed) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (closed) return;
      destroy(unleash);
      unleash = startUnleash();
    }, options.authRetryMs ?? 30_000);
    retryTimer.unref();
  };

  const startUnleash = (): Unleash => {
    const instance = new Unleash({
      appName: options.appName ?? 'strangler',
      url: `${options.url.replace(/\/+$/, '')}/api/`,
      customHeaders: { Authorization: options.clientToken },
      refreshInterval: options.refreshMs,
      timeout: options.requestTimeoutMs ?? Math.max(2_000, 2 * options.refreshMs),
      // The router routes by snapshot, never by isEnabled, so Unleash's usage
      // counters would only ever read zero: don't send them.
      disableMetrics: true,
      storageProvider,
      disableAutoStart: true,
      // Tests and restarts after a rejected token create more than ten over a process's life.
      skipInstanceCountWarning: true,
    });
    // Our storage provider is the only source of data besides Unleash, and it
    // emits no "changed", so every "changed" and "unchanged" is an answer from Unleash.
    instance.on(UnleashEvents.Changed, () => {
      recordSuccess();
      applyDefinitions(instance.getFeatureToggleDefinitions());
    });
    instance.on(UnleashEvents.Unchanged, recordSuccess);
    // Listening to "error" also stops unleash-client printing each one to the console.
    instance.on(UnleashEvents.Error, (err: unknown) => {
      recordFailure(err);
      if (isAuthRejection(err)) scheduleRestart();
    });
    instance.on(UnleashEvents.Warn, recordFailure);
    instance.start().catch(recordFailure);
    return instance;
  };

  unleash = startUnleash();

  return {
    snapshot: () => current,
    state: () => deriveState(history, Date.now(), staleAfterMs),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    whenFresh(timeoutMs) {
      if (deriveState(history, Date.now(), staleAfterMs).kind === 'fresh') return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (fresh: boolean): void => {
          clearTimeout(timer);
          internal.off('success', onSuccess);
          resolve(fresh);
        };
        const onSuccess = (): void => done(true);
        const timer = setTimeout(() => done(false), timeoutMs);
        internal.on('success', onSuccess);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(retryTimer);
      listeners.clear();
      destroy(unleash);
    },
  };
}

/** A FlagSource that serves what it is told: for tests of the router and other packages. */
export interface StaticFlagSource extends FlagSource {
  set(snapshot: FlagSnapshot): void;
  setState(state: FlagClientState): void;
}

export function staticFlagSource(
  snapshot: FlagSnapshot = MONOLITH_ONLY,
  state: FlagClientState = { kind: 'fresh', updatedAt: new Date() },
): StaticFlagSource {
  let current = snapshot;
  let currentState = state;
  const listeners = new Set<(snapshot: FlagSnapshot) => void>();
  return {
    snapshot: () => current,
    state: () => currentState,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(next) {
      current = next;
      for (const listener of listeners) listener(next);
    },
    setState(next) {
      currentState = next;
    },
    async close() {
      listeners.clear();
    },
  };
}

function isAuthRejection(err: unknown): boolean {
  return err instanceof Error && /responded (401|403)\b/.test(err.message);
}

/** unleash-client's error and warning texts, turned into what an operator needs to read. */
function failureMessage(problem: unknown, url: string): string {
  if (isAuthRejection(problem)) {
    const status = (problem as Error).message.match(/responded (\d{3})/)?.[1];
    return `Unleash at ${url} rejected UNLEASH_CLIENT_TOKEN (${status}); set it to a backend token for default:development`;
  }
  const code = (problem as { code?: unknown } | null)?.code;
  const text = problem instanceof Error ? problem.message : String(problem);
  const reason = typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
  return `cannot fetch flags from Unleash at ${url}: ${reason.replace(/^Unleash Repository error: /, '')}`;
}
