import type { Redis } from 'ioredis';

/**
 * What the router saw, per bounded context and side, shared through Redis so
 * that every router process contributes and any process (the stage machine's
 * gates, the guarded rollout, the dashboard) reads one picture.
 *
 * Layout: one hash per context per 10-second bucket,
 *   key   `<prefix>:<context>:<bucket start, unix seconds>`, prefix `strangler:traffic`
 *         unless several deployments share one Redis
 *   field `<side>:requests`, `<side>:errors` (5xx and failures), `<side>:lat:<i>`
 *         (requests whose latency fell in LATENCY_BOUNDS_MS[i]); the same three
 *         again for reads alone as `<side>:read:…` (the guarded rollout compares
 *         the two sides on the routes both serve); and
 *         `shadow:match`, `shadow:mismatch`, `shadow:error`.
 * Buckets expire after an hour. Writers add in memory and flush once a second
 * with one pipeline, so a request costs a few map updates, not a Redis call.
 */

export const BUCKET_SECONDS = 10;
const TTL_SECONDS = 3600;
export const DEFAULT_TRAFFIC_PREFIX = 'strangler:traffic';

/** Upper bounds (ms) of the latency histogram; the last bucket is everything slower. */
export const LATENCY_BOUNDS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, Number.POSITIVE_INFINITY];

export type Side = 'monolith' | 'service';
export type ShadowResult = 'match' | 'mismatch' | 'error';

function bucketOf(ms: number): number {
  return Math.floor(ms / 1000 / BUCKET_SECONDS) * BUCKET_SECONDS;
}

function latencyIndex(ms: number): number {
  let i = 0;
  while (ms > (LATENCY_BOUNDS_MS[i] as number)) i++;
  return i;
}

export class TrafficRecorder {
  readonly #redis: Redis;
  readonly #now: () => number;
  readonly #prefix: string;
  #pending = new Map<string, Map<string, number>>();
  #timer: NodeJS.Timeout | null = null;

  constructor(
    redis: Redis,
    {
      flushMs = 1000,
      now = Date.now,
      prefix = DEFAULT_TRAFFIC_PREFIX,
    }: { flushMs?: number; now?: () => number; prefix?: string } = {},
  ) {
    this.#redis = redis;
    this.#now = now;
    this.#prefix = prefix;
    this.#timer = setInterval(() => void this.flush().catch(() => {}), flushMs);
    this.#timer.unref();
  }

  #add(context: string, field: string, by = 1): void {
    const key = `${this.#prefix}:${context}:${bucketOf(this.#now())}`;
    let fields = this.#pending.get(key);
    if (!fields) {
      fields = new Map();
      this.#pending.set(key, fields);
    }
    fields.set(field, (fields.get(field) ?? 0) + by);
  }

  request(context: string, side: Side, failed: boolean, latencyMs: number, read = false): void {
    const lat = latencyIndex(latencyMs);
    this.#add(context, `${side}:requests`);
    if (failed) this.#add(context, `${side}:errors`);
    this.#add(context, `${side}:lat:${lat}`);
    if (!read) return;
    this.#add(context, `${side}:read:requests`);
    if (failed) this.#add(context, `${side}:read:errors`);
    this.#add(context, `${side}:read:lat:${lat}`);
  }

  shadow(context: string, result: ShadowResult): void {
    this.#add(context, `shadow:${result}`);
  }

  /** Writes what was counted since the last flush; a failed flush keeps nothing (counts are best effort). */
  async flush(): Promise<void> {
    if (this.#pending.size === 0) return;
    const pending = this.#pending;
    this.#pending = new Map();
    const pipeline = this.#redis.pipeline();
    for (const [key, fields] of pending) {
      for (const [field, by] of fields) pipeline.hincrby(key, field, by);
      pipeline.expire(key, TTL_SECONDS);
    }
    await pipeline.exec();
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush().catch(() => {});
  }
}

export interface SideStats {
  requests: number;
  errors: number;
  errorRate: number;
  /** The upper bound of the latency bucket holding the 99th percentile, in ms; null without requests. */
  p99Ms: number | null;
}

export interface TrafficWindow {
  context: string;
  fromSeconds: number;
  toSeconds: number;
  monolith: SideStats;
  service: SideStats;
  /** The same, for reads only. */
  reads: { monolith: SideStats; service: SideStats };
  shadow: { match: number; mismatch: number; error: number; samples: number; consistency: number | null };
}

function sideStats(sum: Map<string, number>, side: string): SideStats {
  const requests = sum.get(`${side}:requests`) ?? 0;
  const errors = sum.get(`${side}:errors`) ?? 0;
  let p99Ms: number | null = null;
  if (requests > 0) {
    const rank = Math.ceil(requests * 0.99);
    let seen = 0;
    for (let i = 0; i < LATENCY_BOUNDS_MS.length; i++) {
      seen += sum.get(`${side}:lat:${i}`) ?? 0;
      if (seen >= rank) {
        p99Ms = LATENCY_BOUNDS_MS[i] as number;
        break;
      }
    }
  }
  return { requests, errors, errorRate: requests ? errors / requests : 0, p99Ms };
}

/**
 * Sums the buckets of the last `windowSeconds` for one context. With
 * `sinceMs`, only buckets that start at or after it: what was counted after a
 * change, with nothing from before it (the bucket the change fell in is left out).
 */
export async function readTrafficWindow(
  redis: Redis,
  context: string,
  windowSeconds: number,
  {
    now = Date.now(),
    prefix = DEFAULT_TRAFFIC_PREFIX,
    sinceMs,
  }: { now?: number; prefix?: string; sinceMs?: number } = {},
): Promise<TrafficWindow> {
  const to = bucketOf(now);
  let from = to - Math.max(0, Math.ceil(windowSeconds / BUCKET_SECONDS) - 1) * BUCKET_SECONDS;
  if (sinceMs !== undefined) from = Math.max(from, Math.ceil(sinceMs / 1000 / BUCKET_SECONDS) * BUCKET_SECONDS);
  const pipeline = redis.pipeline();
  for (let b = from; b <= to; b += BUCKET_SECONDS) pipeline.hgetall(`${prefix}:${context}:${b}`);
  const results = (await pipeline.exec()) ?? [];
  const sum = new Map<string, number>();
  for (const [err, value] of results) {
    if (err || !value) continue;
    for (const [field, count] of Object.entries(value as Record<string, string>)) {
      sum.set(field, (sum.get(field) ?? 0) + Number(count));
    }
  }
  const match = sum.get('shadow:match') ?? 0;
  const mismatch = sum.get('shadow:mismatch') ?? 0;
  const error = sum.get('shadow:error') ?? 0;
  const samples = match + mismatch + error;
  return {
    context,
    fromSeconds: from,
    toSeconds: to + BUCKET_SECONDS,
    monolith: sideStats(sum, 'monolith'),
    service: sideStats(sum, 'service'),
    reads: { monolith: sideStats(sum, 'monolith:read'), service: sideStats(sum, 'service:read') },
    shadow: { match, mismatch, error, samples, consistency: samples ? match / samples : null },
  };
}
