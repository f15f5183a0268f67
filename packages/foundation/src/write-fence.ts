import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';

/**
 * The write fence: how every router process holds a context's writes while
 * the write cutover moves their owner (docs/adr/0012). Coordinated through
 * Redis, never through the memory of one process:
 *
 * - `<prefix>:hold:<context>` says "hold writes", with an epoch. The cutover
 *   sets it (with a TTL it keeps refreshing, so a cutover that dies releases
 *   the writes by itself) and deletes it to release them.
 * - `<prefix>:members` is a hash of every router's latest report, written
 *   every `intervalMs`: when it was alive, which holds it has *completed*
 *   (it saw the hold and has no write of that context in flight), and who it
 *   believes owns each context's writes (its flags).
 *
 * A router that saw a hold admits no new write of that context; held writes
 * wait (at most `holdMaxMs`, then a fast 503) and, once released, are
 * decided again with the flags of that moment. The cutover proceeds only when
 * every live router reports the hold completed, and releases only when every
 * live router reports the new owner. A router it has heard from recently but
 * not within `staleAfterMs` blocks the cutover: it may be alive and cut off.
 * A router cut off from Redis longer than `isolatedAfterMs` holds its writes
 * by itself (fail closed), well before the cutover forgets it
 * (`forgetAfterMs`).
 */

export type WriteOwner = 'monolith' | 'service';

export interface FenceMemberReport {
  id: string;
  /** Wall-clock ms of the report. */
  at: number;
  /** Context → the epoch of the hold this router completed. */
  held: Record<string, string>;
  /** Context → who this router's flags give the writes to. */
  owners: Record<string, WriteOwner>;
  pid: number;
  /** What the member is: a router, or ShopCo when its stock follows the products write owner. */
  kind: FenceMemberKind;
}

export type FenceMemberKind = 'router' | 'shopco';

export interface FenceHold {
  context: string;
  epoch: string;
  by: string;
  since: number;
}

export interface FenceTimings {
  /** How often a router reads the holds and reports. */
  intervalMs: number;
  /** A report older than this: the router may be cut off; the cutover waits for it. */
  staleAfterMs: number;
  /** A report older than this: the router is gone and forgotten. */
  forgetAfterMs: number;
  /** A router that has not reached Redis for this long holds every write itself. */
  isolatedAfterMs: number;
}

export const DEFAULT_FENCE_TIMINGS: Readonly<FenceTimings> = Object.freeze({
  intervalMs: 100,
  staleAfterMs: 3_000,
  forgetAfterMs: 60_000,
  isolatedAfterMs: 20_000,
});

export const DEFAULT_FENCE_PREFIX = 'strangler:fence';

const holdKey = (prefix: string, context: string) => `${prefix}:hold:${context}`;
const membersKey = (prefix: string) => `${prefix}:members`;

function parseJson<T>(raw: string | null | undefined): T | null {
  if (!raw) return null;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return null;
  }
}

/** A write was held longer than the router may keep a client waiting. */
export class WritesHeldError extends Error {
  readonly context: string;
  readonly isolated: boolean;
  constructor(context: string, waitedMs: number, isolated: boolean) {
    super(
      isolated
        ? `writes of ${context} are held: this router cannot reach Redis to confirm no cutover is in progress (waited ${waitedMs} ms)`
        : `writes of ${context} are held by a write cutover in progress (waited ${waitedMs} ms)`,
    );
    this.name = 'WritesHeldError';
    this.context = context;
    this.isolated = isolated;
  }
}

export interface FenceMemberOptions {
  contexts: readonly string[];
  /** Default `router`. */
  kind?: FenceMemberKind;
  /** Who the router's current flags give each context's writes to. */
  owners: () => Record<string, WriteOwner>;
  prefix?: string;
  id?: string;
  /** Longest a write waits for a hold to end before it is refused. */
  holdMaxMs?: number;
  timings?: Partial<FenceTimings>;
  onError?: (err: Error) => void;
  /** Clock, for tests. */
  now?: () => number;
}

/** One router process's side of the fence. */
export class FenceMember {
  readonly id: string;
  readonly #redis: Redis;
  readonly #opts: Required<Omit<FenceMemberOptions, 'timings' | 'onError' | 'id' | 'kind'>> & {
    timings: FenceTimings;
    onError: (err: Error) => void;
  };
  readonly #kind: FenceMemberKind;
  readonly #holds = new Map<string, string>();
  readonly #inFlight = new Map<string, number>();
  readonly #events = new EventEmitter();
  #lastContactAt: number;
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;
  #closed = false;

  constructor(redis: Redis, opts: FenceMemberOptions) {
    this.#redis = redis;
    this.#kind = opts.kind ?? 'router';
    this.id = opts.id ?? `${this.#kind}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.#opts = {
      contexts: opts.contexts,
      owners: opts.owners,
      prefix: opts.prefix ?? DEFAULT_FENCE_PREFIX,
      holdMaxMs: opts.holdMaxMs ?? 5_000,
      now: opts.now ?? Date.now,
      timings: { ...DEFAULT_FENCE_TIMINGS, ...opts.timings },
      onError: opts.onError ?? (() => {}),
    };
    this.#lastContactAt = this.#opts.now();
    this.#events.setMaxListeners(0);
    for (const c of opts.contexts) this.#inFlight.set(c, 0);
  }

  /** Reports once (so a cutover sees this router before its first write), then every `intervalMs`. */
  async start(): Promise<void> {
    await this.tick();
    this.#timer = setInterval(() => {
      this.#ticking ??= this.tick().finally(() => {
        this.#ticking = null;
      });
    }, this.#opts.timings.intervalMs);
    this.#timer.unref();
  }

  /** Whether the fence holds writes of `context` at all (the contexts a cutover can move). */
  covers(context: string): boolean {
    return this.#opts.contexts.includes(context);
  }

  /** Whether the router may not dispatch writes of `context` right now. Contexts it does not cover never are. */
  isHeld(context: string): boolean {
    return this.covers(context) && (this.#holds.has(context) || this.isolated());
  }

  /** Cut off from Redis for too long to know whether a cutover is running. */
  isolated(): boolean {
    return this.#opts.now() - this.#lastContactAt > this.#opts.timings.isolatedAfterMs;
  }

  /**
   * Admits one write of `context`: at once when no hold is on, else after the
   * hold ends. Returns the function to call when the write is done. Throws
   * WritesHeldError after `holdMaxMs`.
   */
  async admit(context: string): Promise<() => void> {
    if (!this.isHeld(context)) return this.#enter(context);
    // A monotonic clock for the wait: the injectable one is wall time, as in the reports.
    const started = performance.now();
    const deadline = started + this.#opts.holdMaxMs;
    while (this.isHeld(context)) {
      const left = deadline - performance.now();
      if (left <= 0 || this.#closed) {
        throw new WritesHeldError(context, Math.round(performance.now() - started), this.isolated());
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, this.#opts.timings.intervalMs * 5));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#events.once('change', done);
      });
    }
    return this.#enter(context);
  }

  #enter(context: string): () => void {
    this.#inFlight.set(context, (this.#inFlight.get(context) ?? 0) + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#inFlight.set(context, (this.#inFlight.get(context) ?? 1) - 1);
    };
  }

  /** Writes of `context` dispatched and not yet answered. */
  inFlight(context: string): number {
    return this.#inFlight.get(context) ?? 0;
  }

  /** Reads the holds, then reports: exported for tests, which step it by hand. */
  async tick(): Promise<void> {
    const { contexts, prefix } = this.#opts;
    try {
      const raw = await this.#redis.mget(...contexts.map((c) => holdKey(prefix, c)));
      const changed = this.#applyHolds(raw);
      this.#lastContactAt = this.#opts.now();
      await this.#report();
      if (changed) this.#events.emit('change');
    } catch (err) {
      this.#opts.onError(err as Error);
      // Isolation may have just begun or ended: let waiters look again.
      this.#events.emit('change');
    }
  }

  #applyHolds(raw: ReadonlyArray<string | null>): boolean {
    let changed = false;
    this.#opts.contexts.forEach((context, i) => {
      const epoch = parseJson<FenceHold>(raw[i])?.epoch ?? null;
      if ((this.#holds.get(context) ?? null) === epoch) return;
      changed = true;
      if (epoch === null) this.#holds.delete(context);
      else this.#holds.set(context, epoch);
    });
    return changed;
  }

  async #report(): Promise<void> {
    const held: Record<string, string> = {};
    for (const [context, epoch] of this.#holds) {
      if (this.inFlight(context) === 0) held[context] = epoch;
    }
    const report: FenceMemberReport = {
      id: this.id,
      at: this.#opts.now(),
      held,
      owners: this.#opts.owners(),
      pid: process.pid,
      kind: this.#kind,
    };
    await this.#redis.hset(membersKey(this.#opts.prefix), this.id, JSON.stringify(report));
  }

  /** Stops reporting and leaves the members (a cutover then no longer waits for this router). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#ticking;
    this.#events.emit('change');
    await this.#redis.hdel(membersKey(this.#opts.prefix), this.id).catch(() => {});
  }
}

export interface FenceCoordinatorOptions {
  prefix?: string;
  timings?: Partial<FenceTimings>;
  now?: () => number;
}

export interface MemberView extends FenceMemberReport {
  ageMs: number;
  stale: boolean;
}

/** A condition every live router must meet, and the routers that did not in time. */
export class FenceWaitTimeout extends Error {
  readonly waitingFor: MemberView[];
  constructor(what: string, timeoutMs: number, waitingFor: MemberView[]) {
    const who = waitingFor
      .map((m) => `${m.id} (pid ${m.pid}, last report ${(m.ageMs / 1000).toFixed(1)} s ago)`)
      .join(', ');
    super(`${what} did not happen within ${timeoutMs} ms; still waiting for ${who}`);
    this.name = 'FenceWaitTimeout';
    this.waitingFor = waitingFor;
  }
}

export class HoldConflictError extends Error {
  constructor(hold: FenceHold, now: number) {
    super(
      `writes of ${hold.context} are already held by ${hold.by} (for ${((now - hold.since) / 1000).toFixed(1)} s): another cutover is in progress`,
    );
    this.name = 'HoldConflictError';
  }
}

/** Deletes the hold only if it is still ours. */
const RELEASE_SCRIPT = `
local raw = redis.call('GET', KEYS[1])
if raw and cjson.decode(raw).epoch == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Extends the hold's TTL only if it is still ours. */
const REFRESH_SCRIPT = `
local raw = redis.call('GET', KEYS[1])
if raw and cjson.decode(raw).epoch == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** The cutover's side of the fence. */
export class FenceCoordinator {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #timings: FenceTimings;
  readonly #now: () => number;

  constructor(redis: Redis, opts: FenceCoordinatorOptions = {}) {
    this.#redis = redis;
    this.#prefix = opts.prefix ?? DEFAULT_FENCE_PREFIX;
    this.#timings = { ...DEFAULT_FENCE_TIMINGS, ...opts.timings };
    this.#now = opts.now ?? Date.now;
  }

  /** Every router that reported within `forgetAfterMs`; older reports are removed. */
  async members(): Promise<MemberView[]> {
    const all = await this.#redis.hgetall(membersKey(this.#prefix));
    const now = this.#now();
    const out: MemberView[] = [];
    const forget: string[] = [];
    for (const [id, raw] of Object.entries(all)) {
      const report = parseJson<FenceMemberReport>(raw);
      const ageMs = report ? now - report.at : Number.POSITIVE_INFINITY;
      if (!report || ageMs > this.#timings.forgetAfterMs) {
        forget.push(id);
        continue;
      }
      out.push({ ...report, ageMs, stale: ageMs > this.#timings.staleAfterMs });
    }
    if (forget.length > 0) await this.#redis.hdel(membersKey(this.#prefix), ...forget);
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  async currentHold(context: string): Promise<FenceHold | null> {
    return parseJson<FenceHold>(await this.#redis.get(holdKey(this.#prefix, context)));
  }

  /** Starts holding `context`'s writes; refuses when another hold is on. The hold lapses after `ttlMs` unless refreshed. */
  async hold(context: string, by: string, ttlMs: number): Promise<FenceHold> {
    const hold: FenceHold = { context, epoch: randomUUID(), by, since: this.#now() };
    const ok = await this.#redis.set(holdKey(this.#prefix, context), JSON.stringify(hold), 'PX', ttlMs, 'NX');
    if (ok !== 'OK') {
      const other = await this.currentHold(context);
      throw new HoldConflictError(other ?? hold, this.#now());
    }
    return hold;
  }

  /** Extends the hold; false when it lapsed or was taken over (the cutover must then stop). */
  async refresh(hold: FenceHold, ttlMs: number): Promise<boolean> {
    const n = await this.#redis.eval(REFRESH_SCRIPT, 1, holdKey(this.#prefix, hold.context), hold.epoch, ttlMs);
    return n === 1;
  }

  async release(hold: FenceHold): Promise<void> {
    await this.#redis.eval(RELEASE_SCRIPT, 1, holdKey(this.#prefix, hold.context), hold.epoch);
  }

  /** Waits until every live router completed the hold: none admits or has in flight a write of the context. */
  async waitHeld(hold: FenceHold, timeoutMs: number): Promise<MemberView[]> {
    return this.#waitAll(
      `every router holding the writes of ${hold.context}`,
      (m) => !m.stale && m.held[hold.context] === hold.epoch,
      timeoutMs,
    );
  }

  /** Waits until every live router's flags give `context`'s writes to `owner`. */
  async waitOwner(context: string, owner: WriteOwner, timeoutMs: number): Promise<MemberView[]> {
    return this.#waitAll(
      `every router seeing the ${owner} as the owner of ${context} writes`,
      (m) => !m.stale && m.owners[context] === owner,
      timeoutMs,
    );
  }

  async #waitAll(what: string, ok: (m: MemberView) => boolean, timeoutMs: number): Promise<MemberView[]> {
    const deadline = this.#now() + timeoutMs;
    for (;;) {
      const members = await this.members();
      const waiting = members.filter((m) => !ok(m));
      if (waiting.length === 0) return members;
      if (this.#now() >= deadline) throw new FenceWaitTimeout(what, timeoutMs, waiting);
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.#timings.intervalMs / 2, 50)));
    }
  }
}
