import type { UnleashAdminApi } from '@strangler/flags';
import { type FenceCoordinator, type Knex, type Redis, readTrafficWindow } from '@strangler/foundation';
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

/** The guard's verdict on a context now, without acting on it (status shows it). */
export async function assessReads(
  deps: Pick<GuardDeps, 'db' | 'redis' | 'trafficPrefix' | 'policy' | 'now'>,
  record: ContextRecord,
): Promise<GuardVerdict> {
  if (!guardedStage(record.stage, record.canaryPercent)) return { kind: 'idle', reason: idleReason(record.stage) };
  const stages = new StageStore(deps.db);
  const now = deps.now?.() ?? Date.now();
  const lastMove = await stages.lastMoveAt(record.context);
  // A Redis that is away must not read as "no traffic".
  await deps.redis.ping();
  const window = await readTrafficWindow(deps.redis, record.context, deps.policy.windowSeconds, {
    now,
    prefix: deps.trafficPrefix,
    sinceMs: lastMove?.getTime(),
  });
  let monolith = window.reads.monolith;
  let baseline: GuardNumbers['baseline'] = 'window';
  if (monolith.requests < deps.policy.minRequests && record.stage === 'reads') {
    // At `reads` the monolith serves no reads of the context: compare with what it served before.
    const arrival = await stages.lastArrivalAt(record.context, 'reads');
    if (arrival) {
      const before = await readTrafficWindow(deps.redis, record.context, deps.policy.windowSeconds, {
        now: arrival.getTime(),
        prefix: deps.trafficPrefix,
      });
      monolith = before.reads.monolith;
      baseline = 'before-stage';
    }
  }
  return judgeReads(
    {
      service: window.reads.service,
      monolith,
      baseline,
      fromSeconds: window.fromSeconds,
      toSeconds: window.toSeconds,
    },
    deps.policy,
  );
}

/** One check of one context, acting on a `worse` verdict. */
export async function guardContext(deps: GuardDeps, context: ContextName): Promise<GuardCheck> {
  const record = await new StageStore(deps.db).get(context);
  const verdict = await assessReads(deps, record);
  const check: GuardCheck = {
    context,
    stage: record.stage,
    canaryPercent: record.canaryPercent,
    verdict,
    action: null,
  };
  if (verdict.kind !== 'worse') return check;
  check.action = await setBack(deps, record, verdict);
  return check;
}

async function setBack(
  deps: GuardDeps,
  judged: ContextRecord,
  verdict: Extract<GuardVerdict, { kind: 'worse' }>,
): Promise<NonNullable<GuardCheck['action']>> {
  const context = judged.context as ContextName;
  try {
    return await withMoveLock(deps.db, context, async (trx) => {
      const stages = new StageStore(trx);
      const current = await stages.get(context);
      if (current.stage !== judged.stage || current.canaryPercent !== judged.canaryPercent) {
        return { skipped: `${context} moved to ${current.stage} while it was judged; judging again next time` };
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
        gate: { guard: { reasons: verdict.reasons, numbers: verdict.numbers, policy: deps.policy } },
      });
      return { setback };
    });
  } catch (err) {
    if ((err as Error).name === 'MoveInProgressError') return { skipped: (err as Error).message };
    throw err;
  }
}
