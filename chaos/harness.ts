import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testServerUrls } from '@strangler/foundation/testing';
import { nextStage, STAGES, type Stage } from '../migrations/src/stages/stages.ts';
import { OUTBOX_TABLE } from '../migrations/src/sync/capture.ts';
import { captureLag } from '../migrations/src/sync/outbox.ts';
import { reconcile } from '../migrations/src/sync/reconcile.ts';
import { DelayProxy } from '../migrations/test/journey/delay-proxy.ts';
import { type Failure, LoadGenerator, type LoadReport } from '../migrations/test/journey/load.ts';
import { type Stack, startStack } from '../migrations/test/journey/stack.ts';
import {
  type Account,
  seedUsers,
  startUsersLoad,
  type UsersAudit,
  type UsersLoadOptions,
} from '../migrations/test/journey/users-workload.ts';
import { ChaosRedis, ChaosUnleash, requireBinary } from './infra.ts';

/**
 * The chaos suite's stack and the frame every scenario runs in: the users
 * extraction with every process real (migrations/test/journey/stack.ts), on
 * a Redis and an Unleash of the suite's own, with the routers reaching the
 * users service through a TCP proxy that can make it slow. One stack serves
 * every scenario; each scenario brings it to its stage with `pnpm strangler`,
 * runs its own load, injects one fault, and measures.
 */

/** The router gives up on the service after this long (and answers a read from the monolith); the router's default. */
export const SERVICE_TIMEOUT_MS = 2_000;
/** Users in the monolith before the extraction: enough for a backfill that lasts long enough to be killed midway. */
export const SEEDED_USERS = 40_000;
/** The canary's share of users, so that the service answers many reads. */
export const CANARY_PERCENT = 50;
/** The load runs on after `afterMs` until no request has failed for this long (at most RECOVERY_BOUND_MS more). */
const QUIET_MS = 1_500;
const RECOVERY_BOUND_MS = 20_000;
/** How many of the earlier scenarios' accounts the visitors use. */
const ACCOUNTS_KEPT = 300;
/** The sync counts as caught up once the oldest unapplied change is younger than this. */
const CAUGHT_UP_SECONDS = 1;

export interface ChaosStack extends Stack {
  readonly redis: ChaosRedis;
  readonly unleash: ChaosUnleash;
  readonly proxy: DelayProxy;
  readonly postgresUrl: string;
  /** Where the suite has moved the context so far. */
  stage: Stage;
  /** Accounts the earlier scenarios registered (synced by now): the visitors of later ones read them and log in. */
  accounts: Account[];
  destroy(): Promise<void>;
}

export async function startChaosStack(): Promise<ChaosStack> {
  requireBinary('redis-server', 'apt-get install redis-server');
  const logDir = await mkdtemp(join(tmpdir(), 'strangler-chaos-'));
  const { databaseUrl: postgresUrl } = testServerUrls();
  let proxy: DelayProxy | undefined;
  const [redis, unleash] = await Promise.all([ChaosRedis.start(logDir), ChaosUnleash.start(postgresUrl, logDir)]);
  try {
    const stack = await startStack({
      context: 'users',
      prefix: `chaos-${randomUUID().slice(0, 8)}`,
      logDir,
      redisUrl: redis.url,
      unleash: { url: unleash.url, adminToken: unleash.adminToken, clientToken: unleash.clientToken },
      seed: (monolith) => seedUsers(monolith, SEEDED_USERS),
      monolithEnv: () => ({}),
      routerEnv: { SERVICE_TIMEOUT_MS: String(SERVICE_TIMEOUT_MS) },
      serviceFront: async (serviceUrl) => {
        proxy = await DelayProxy.start(serviceUrl);
        return proxy.url;
      },
    });
    await stack.worker.start();
    return {
      ...stack,
      redis,
      unleash,
      proxy: proxy as DelayProxy,
      postgresUrl,
      stage: 'legacy',
      accounts: [],
      destroy: async () => {
        await stack.stop();
        await proxy?.close();
        await Promise.allSettled([redis.kill(), unleash.destroy()]);
        if (process.env.CHAOS_KEEP_LOGS) console.log(`[chaos] logs kept in ${logDir}`);
        else await rm(logDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await proxy?.close();
    await Promise.allSettled([redis.kill(), unleash.destroy()]);
    throw err;
  }
}

/** What a scenario's fault gets to work with. */
export interface FaultContext {
  stack: ChaosStack;
  load: LoadGenerator;
  /** Marks the fault as over (the restart was issued...); recovery is measured from here. Default: when `inject` returns. */
  faultEnds(): void;
  /** A fact for the scenario's table ("jobs active at the kill: 3"). */
  note(line: string): void;
  sleep(ms: number): Promise<void>;
}

export interface Scenario {
  /** Names the scenario's table in docs/reliability.md. */
  id: string;
  title: string;
  /** The stage the stack must be at; the runner moves it there first with `pnpm strangler`. */
  stage: Stage;
  /** Load before the fault. */
  warmupMs: number;
  /** Load after the fault's end. */
  afterMs: number;
  /** Injects the fault and undoes it. */
  inject(ctx: FaultContext): Promise<void>;
  /** The load's mix; default 3 shoppers and 4 visitors. */
  load?: UsersLoadOptions;
  /** What this scenario promises besides the invariants every scenario keeps: each broken promise, in words. */
  promises?(result: ScenarioResult): string[];
  /** The fault is itself the move to `stage` (the backfill killed midway): the runner does not move first. */
  runsOwnMove?: boolean;
  /**
   * The fault closes connections clients hold (a router restarting): a write sent on a
   * keep-alive connection as the router closes it breaks, outcome unknown to the client.
   */
  connectionsMayBreak?: boolean;
}

export type RequestKind = 'read' | 'login' | 'write';

/** GETs are reads; a login is a POST that changes nothing (the router routes it as a read, never twice); the rest write. */
export function kindOf(method: string, route: string): RequestKind {
  if (method === 'GET' || method === 'HEAD') return 'read';
  return route === 'login' ? 'login' : 'write';
}

/** How a failure reads in a table: `503 ROUTER_WRITES_HELD`, `refused (not sent)`... */
export function failureLabel(f: Failure): string {
  if (f.status === 0)
    return f.network === 'refused' ? 'connection refused (not sent)' : `connection broken (${f.code})`;
  return `${f.status} ${f.code ?? '(no code)'}`;
}

export interface ScenarioResult {
  id: string;
  title: string;
  stage: Stage;
  requests: number;
  byKind: Record<RequestKind, { total: number; failed: number }>;
  /** Failure label → count, per kind. */
  failures: Record<RequestKind, Record<string, number>>;
  failedOver: number;
  ackedWrites: number;
  audit: UsersAudit;
  drift: { forward: number; reverse: number };
  faultMs: number;
  /** From the fault's end to the last request that failed (0: none failed after it). */
  recoveryMs: number;
  /** From the fault's end to the last moment the sync was behind by CAUGHT_UP_SECONDS or more. */
  syncCaughtUpMs: number;
  /** Reads answered by the service, before, during and after the fault. */
  serviceReads: { before: number; during: number; after: number };
  /** From the fault's end to the first read the service answered again; null when it answered none after. */
  serviceBackMs: number | null;
  /** From the scenario: a write may fail with its connection broken (outcome unknown, audited). */
  connectionsMayBreak: boolean;
  /** The longest a write or login waited for the answer that refused it (a 503, a 504): "fail fast", reported. */
  slowestRefusalMs: number;
  notes: string[];
  wallMs: number;
}

/**
 * Moves the context stage by stage to `target` with `pnpm strangler`, while
 * the scenario's load runs (the gates need it): forward with `advance`, back
 * with `rollback` (from writes, the write cutover in reverse).
 */
export async function moveTo(stack: ChaosStack, target: Stage, note: (line: string) => void): Promise<void> {
  while (STAGES.indexOf(stack.stage) > STAGES.indexOf(target)) {
    const from = stack.stage;
    const to = STAGES[STAGES.indexOf(from) - 1] as Stage;
    const started = Date.now();
    await stack.rollback(to, { reason: `chaos: back to ${to}` });
    stack.stage = to;
    note(`moved ${from} → ${to} (rollback) under this load in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  while (STAGES.indexOf(stack.stage) < STAGES.indexOf(target)) {
    const from = stack.stage;
    const to = nextStage(from) as Stage;
    const started = Date.now();
    await stack.advance(to, { reason: `chaos: to ${to}` });
    if (to === 'canary') {
      const canary = await stack.strangler(['canary', 'users', String(CANARY_PERCENT), '--reason', 'chaos']);
      if (canary.code !== 0) throw new Error(`canary ${CANARY_PERCENT} failed:\n${canary.stderr}`);
    }
    stack.stage = to;
    const took = ((Date.now() - started) / 1000).toFixed(1);
    note(`moved ${from} → ${to}${to === 'canary' ? ` (${CANARY_PERCENT} %)` : ''} under this load in ${took} s`);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A failure that says something is down: no answer, or a 5xx. */
const isServerFailure = (f: Failure) => f.status === 0 || f.status >= 500;

/** Waits until no request has failed for `quietMs`; null when that did not happen within `boundMs`. */
async function untilQuiet(report: LoadReport, quietMs: number, boundMs: number): Promise<number | null> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const last = report.failures.findLast(isServerFailure)?.at ?? 0;
    if (Date.now() - last >= quietMs) return last;
    if (Date.now() > deadline) return null;
    await sleep(100);
  }
}

/**
 * Starts again whatever an earlier scenario left stopped (one that failed
 * midway), so each scenario starts on the whole stack; returns what it restarted.
 */
async function heal(stack: ChaosStack): Promise<string[]> {
  const healed: string[] = [];
  stack.proxy.delayMs = 0;
  if (!stack.redis.running) {
    await stack.redis.restart();
    healed.push('redis');
  }
  if (!stack.unleash.running) {
    await stack.unleash.restart();
    healed.push('unleash');
  }
  for (const p of [stack.shopco, stack.serviceProcess, ...stack.routers, stack.worker]) {
    if (p.running) continue;
    await p.start();
    healed.push(p.name);
  }
  return healed;
}

/**
 * Runs one scenario: its own load through both routers, the fault, the load
 * again for `afterMs`; then waits for the sync to drain and measures:
 * failures by kind, lost and half-applied writes (the workload's audit),
 * drift both ways (reconcile), recovery.
 */
export async function runScenario(stack: ChaosStack, scenario: Scenario): Promise<ScenarioResult> {
  const started = Date.now();
  const notes: string[] = [];
  const healed = await heal(stack);
  if (healed.length > 0) notes.push(`started again what an earlier scenario left stopped: ${healed.join(', ')}`);
  const load = new LoadGenerator({ routers: stack.routerUrls, pauseMs: 15 });
  const workload = await startUsersLoad(stack.monolith, load, {
    accounts: stack.accounts.slice(-ACCOUNTS_KEPT),
    // Visitors are the ones whose reads a canary sends to the service: the shoppers' reads follow their writes.
    visitors: 4,
    ...scenario.load,
  });
  const lagSamples: Array<{ at: number; oldest: number }> = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const at = Date.now();
      const lag = await captureLag(stack.channels.forward).catch(() => null);
      if (lag) lagSamples.push({ at, oldest: lag.oldestUnappliedSeconds });
      await sleep(250);
    }
  })();

  let faultStart = 0;
  let faultEnd = 0;
  let report: LoadReport | undefined;
  try {
    if (!scenario.runsOwnMove) await moveTo(stack, scenario.stage, (line) => notes.push(line));
    await sleep(scenario.warmupMs);
    faultStart = Date.now();
    await scenario.inject({
      stack,
      load,
      faultEnds: () => {
        faultEnd ||= Date.now();
      },
      note: (line) => notes.push(line),
      sleep,
    });
    faultEnd ||= Date.now();
    await sleep(scenario.afterMs);
    // The next scenario starts on a stack that has recovered from this one (a circuit breaker closed again...).
    const quietSince = await untilQuiet(load.report, QUIET_MS, RECOVERY_BOUND_MS);
    if (quietSince === null) notes.push(`still failing ${s(RECOVERY_BOUND_MS)} after the load's end was due`);
    report = await load.stop();
    await stack.waitForDrain(stack.channels.forward, 60_000);
    // From writes on (and back from there), the service's changes flow back too.
    if (await stack.service.schema.hasTable(OUTBOX_TABLE)) await stack.waitForDrain(stack.channels.reverse, 60_000);
  } finally {
    await load.stop();
    sampling = false;
    await sampler;
  }

  const audit = await workload.audit({ monolith: stack.monolith, service: stack.service });
  stack.accounts.push(...workload.accounts());
  const [forward, reverse] = await Promise.all([reconcile(stack.channels.forward), reconcile(stack.channels.reverse)]);

  const byKind = { read: { total: 0, failed: 0 }, login: { total: 0, failed: 0 }, write: { total: 0, failed: 0 } };
  const serviceReads = { before: 0, during: 0, after: 0 };
  let lastFailure = 0;
  let serviceBack: number | null = null;
  for (const o of report.outcomes) {
    const kind = kindOf(o.method, o.route);
    byKind[kind].total++;
    if (kind === 'read' && o.target === 'service') {
      serviceReads[o.at < faultStart ? 'before' : o.at < faultEnd ? 'during' : 'after']++;
      if (o.at >= faultEnd && (serviceBack === null || o.at < serviceBack)) serviceBack = o.at;
    }
  }
  const failures: ScenarioResult['failures'] = { read: {}, login: {}, write: {} };
  let slowestRefusalMs = 0;
  let expectedByWorkload = 0;
  for (const f of report.failures) {
    // What the workload expects (an order by an account the reverse sync has not carried yet): documented, not a failure.
    if (workload.expected(f)) {
      expectedByWorkload++;
      continue;
    }
    const kind = kindOf(f.method, f.route);
    if (kind !== 'read' && f.status >= 500) slowestRefusalMs = Math.max(slowestRefusalMs, f.ms);
    byKind[kind].failed++;
    const label = failureLabel(f);
    failures[kind][label] = (failures[kind][label] ?? 0) + 1;
    if (isServerFailure(f)) lastFailure = Math.max(lastFailure, f.at);
  }
  if (expectedByWorkload > 0) {
    notes.push(
      `${expectedByWorkload} order(s) by accounts new at the service met the reverse sync's lag (404 USERS_NOT_FOUND, ADR 0012) and were placed again later`,
    );
  }
  const behind = lagSamples.filter((s) => s.at >= faultStart && s.oldest >= CAUGHT_UP_SECONDS).at(-1);
  return {
    id: scenario.id,
    title: scenario.title,
    stage: scenario.stage,
    connectionsMayBreak: scenario.connectionsMayBreak ?? false,
    requests: report.requests,
    byKind,
    failures,
    failedOver: report.failedOver,
    ackedWrites: report.ackedWrites,
    audit,
    drift: { forward: forward.drift, reverse: reverse.drift },
    faultMs: faultEnd - faultStart,
    recoveryMs: Math.max(0, lastFailure - faultEnd),
    syncCaughtUpMs: behind ? Math.max(0, behind.at - faultEnd) : 0,
    serviceReads,
    serviceBackMs: serviceBack === null ? null : serviceBack - faultEnd,
    slowestRefusalMs,
    notes,
    wallMs: Date.now() - started,
  };
}
