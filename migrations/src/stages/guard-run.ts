import type { UnleashAdminApi } from '@strangler/flags';
import { type FenceCoordinator, type Knex, type Redis, readTrafficWindow, type SideStats } from '@strangler/foundation';
import type { ContextName } from './contexts.ts';
import { setFlags } from './effects.ts';
import {
  describeNumbers,
  type GuardNumbers,
  type GuardPolicy,
  type GuardVerdict,
  guardedStage,
  idleReason,
  judgeReads,
  setbackPercent,
} from './guard.ts';
import { withMoveLock } from './move-lock.ts';
import { flagsForStage, type Stage } from './stages.ts';
import { type ContextRecord, StageStore } from './store.ts';

/**
 * The guarded rollout's effects: measure a context's reads from the traffic
 * every router shares through Redis, judge them (guard.ts), and set the read
 * rollout back when the service is worse. Any number of guard processes may
 * run: a setback happens under the context's move lock, after reading the
 * stage again, and is recorded as a move; the next judgement only counts
 * traffic after that move, so one bad episode makes one setback.
 */

export interface GuardDeps {
  /** The control database: the stage history, and the move lock. */
  db: Knex;
  redis: Redis;
  trafficPrefix: string;
  unleash: UnleashAdminApi;
  fence: FenceCoordinator;
  policy: GuardPolicy;
  now?: () => number;
  print?: (line: string) => void;
}

export interface GuardSetback {
  from: { stage: Stage; percent: number };
  to: { stage: 'canary'; percent: number };
  reason: string;
}

export interface GuardCheck {
  context: ContextName;
  stage: Stage;
  canaryPercent: number;
  verdict: GuardVerdict;
  /** What the guard did about a `worse` verdict: set the rollout back, or why it could not now. */
  action: { setback: GuardSetback } | { skipped: string } | null;
}

const readPercentOf = (r: Pick<ContextRecord, 'stage' | 'canaryPercent'>) =>
  r.stage === 'reads' ? 100 : r.canaryPercent;

/** Where a guard keeps the last monolith baseline it saw, for stages where the monolith serves no reads. */
const baselineKey = (prefix: string, context: string) => `${prefix}:guard-baseline:${context}`;

interface Remembered {
  at: number;
  monolith: SideStats;
}

/**
 * The guard's verdict on a context now. The monolith's side is its reads in
 * the window; when it has too few (at `reads`, or a canary at 100 %, it
 * serves none), its reads in the window before the last move; else the last
 * baseline a guard remembered. With `remember`, a window with enough
 * monolith reads becomes the remembered baseline (status only reads).
 */
export async function assessReads(
  deps: Pick<GuardDeps, 'db' | 'redis' | 'trafficPrefix' | 'policy' | 'now'>,
  record: ContextRecord,
  {
    remember = false,
    lastMoveAt,
  }: { remember?: boolean /** When the caller has read it already. */; lastMoveAt?: Date | null } = {},
): Promise<GuardVerdict> {
  if (!guardedStage(record.stage, record.canaryPercent)) return { kind: 'idle', reason: idleReason(record.stage) };
  const stages = new StageStore(deps.db);
  const { minRequests, windowSeconds } = deps.policy;
  const now = deps.now?.() ?? Date.now();
  const lastMove = lastMoveAt !== undefined ? lastMoveAt : await stages.lastMoveAt(record.context);
  // A Redis that is away must not read as "no traffic".
  await deps.redis.ping();
  const read = (opts: { now: number; sinceMs?: number }) =>
    readTrafficWindow(deps.redis, record.context, windowSeconds, { prefix: deps.trafficPrefix, ...opts });
  const window = await read({ now, sinceMs: lastMove?.getTime() });
  const key = baselineKey(deps.trafficPrefix, record.context);
  let monolith = window.reads.monolith;
  let baseline: Pick<GuardNumbers, 'baseline' | 'rememberedAt'> = { baseline: 'window' };
  if (monolith.requests >= minRequests) {
    if (remember) await deps.redis.set(key, JSON.stringify({ at: now, monolith } satisfies Remembered));
  } else {
    const before = lastMove ? (await read({ now: lastMove.getTime() })).reads.monolith : null;
    const remembered = parseRemembered(await deps.redis.get(key));
    if (before && before.requests >= minRequests) {
      monolith = before;
      baseline = { baseline: 'before-move' };
    } else if (remembered) {
      monolith = remembered.monolith;
      baseline = { baseline: 'remembered', rememberedAt: remembered.at };
    }
  }
  return judgeReads(
    {
      service: window.reads.service,
      monolith,
      ...baseline,
      fromSeconds: window.fromSeconds,
      toSeconds: window.toSeconds,
    },
    deps.policy,
  );
}

function parseRemembered(text: string | null): Remembered | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as Remembered;
    // JSON has no Infinity: the last latency bucket comes back as null.
    const p99 = value.monolith.p99Ms;
    return { at: value.at, monolith: { ...value.monolith, p99Ms: p99 ?? Number.POSITIVE_INFINITY } };
  } catch {
    return null;
  }
}

/** One check of one context, acting on a `worse` verdict. */
export async function guardContext(deps: GuardDeps, context: ContextName): Promise<GuardCheck> {
  const stages = new StageStore(deps.db);
  const record = await stages.get(context);
  const lastMoveAt = await stages.lastMoveAt(context);
  const lastMove = lastMoveAt?.getTime() ?? null;
  const verdict = await assessReads(deps, record, { remember: true, lastMoveAt });
  const check: GuardCheck = {
    context,
    stage: record.stage,
    canaryPercent: record.canaryPercent,
    verdict,
    action: null,
  };
  if (verdict.kind !== 'worse') return check;
  check.action = await setBack(deps, record, lastMove, verdict);
  return check;
}

async function setBack(
  deps: GuardDeps,
  judged: ContextRecord,
  judgedLastMove: number | null,
  verdict: Extract<GuardVerdict, { kind: 'worse' }>,
): Promise<NonNullable<GuardCheck['action']>> {
  const context = judged.context as ContextName;
  try {
    return await withMoveLock(deps.db, context, async (trx) => {
      const stages = new StageStore(trx);
      const current = await stages.get(context);
      // Any move since the judgement (even one that came back to the same %) makes its traffic old news.
      const lastMove = (await stages.lastMoveAt(context))?.getTime() ?? null;
      if (
        current.stage !== judged.stage ||
        current.canaryPercent !== judged.canaryPercent ||
        lastMove !== judgedLastMove
      ) {
        return { skipped: `${context} moved while it was judged; judging again next time` };
      }
      const hold = await deps.fence.currentHold(context);
      if (hold) return { skipped: `a write cutover holds the writes of ${context}; not touching its flags now` };
      const percent = setbackPercent(
        current.stage,
        current.canaryPercent,
        await stages.canaryPercents(context),
        deps.policy.setback,
      );
      const setback: GuardSetback = {
        from: { stage: current.stage, percent: readPercentOf(current) },
        to: { stage: 'canary', percent },
        reason: `guard: ${verdict.reasons.join('; ')} (${describeNumbers(verdict.numbers)}); reads ${readPercentOf(current)} % → ${percent} %`,
      };
      // The reads and shadow flags only: the writes flag belongs to the cutover.
      await setFlags(deps.unleash, context, flagsForStage('canary', percent), deps.print ?? (() => {}), [
        'reads',
        'shadow',
      ]);
      await stages.record({
        context,
        from: current.stage,
        to: 'canary',
        canaryPercent: percent,
        actor: 'guard',
        reason: setback.reason,
        forced: false,
        // JSON has no Infinity: the last latency bucket is recorded as its name.
        gate: JSON.parse(
          JSON.stringify(
            { guard: { reasons: verdict.reasons, numbers: verdict.numbers, policy: deps.policy } },
            (_k, v) => (v === Number.POSITIVE_INFINITY ? 'over 5000 ms' : v),
          ),
        ),
      });
      return { setback };
    });
  } catch (err) {
    if ((err as Error).name === 'MoveInProgressError') return { skipped: (err as Error).message };
    throw err;
  }
}
