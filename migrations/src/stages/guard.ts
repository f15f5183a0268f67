import type { SideStats } from '@strangler/foundation';
import { pct, serviceWorseBy } from './gates.ts';
import type { Stage } from './stages.ts';

/**
 * The guarded rollout (docs/adr/0015), as pure functions: while a context's
 * reads are partly or wholly at the service (canary, reads), compare the
 * service's reads with the monolith's over a sliding window, and when the
 * service is worse by more than a margin, over enough samples on both sides,
 * set the read rollout back. guard-run.ts measures and carries it out.
 */

export interface GuardPolicy {
  /** The sliding window, in seconds; it never reaches back past the context's last move. */
  windowSeconds: number;
  /** Reads each side must have served in the window before anything is judged. */
  minRequests: number;
  /** How much worse than the monolith the service may be before the rollout is set back. */
  errorRateMargin: number;
  p99MarginMs: number;
  /** Where a setback goes: the rollout step before the current one, or 0 %. */
  setback: 'previous' | 'zero';
}

/** Looser than the gates' margins: a gate asks "good enough to go on", the guard "bad enough to go back". */
export const DEFAULT_GUARD_POLICY: GuardPolicy = Object.freeze({
  windowSeconds: 120,
  minRequests: 100,
  errorRateMargin: 0.02,
  p99MarginMs: 250,
  setback: 'previous',
});

/** What the guard compared: reads per side, and where the monolith's numbers came from. */
export interface GuardNumbers {
  service: SideStats;
  monolith: SideStats;
  /**
   * Where the monolith's numbers come from: `window`, its reads in the same
   * window; `before-move`, the window that ended at the context's last move
   * (at `reads` or a 100 % canary it serves none now); `remembered`, the last
   * window a guard saw with enough monolith reads (kept in Redis, `rememberedAt`).
   */
  baseline: 'window' | 'before-move' | 'remembered';
  rememberedAt?: number;
  fromSeconds: number;
  toSeconds: number;
}

export type GuardVerdict =
  /** Nothing to guard: the stage sends no reads to the service. */
  | { kind: 'idle'; reason: string }
  /** Too few reads on a side to judge; nothing changes. */
  | { kind: 'waiting'; reason: string; numbers: GuardNumbers }
  | { kind: 'healthy'; numbers: GuardNumbers }
  | { kind: 'worse'; reasons: string[]; numbers: GuardNumbers };

/** Whether the guard watches a context at this stage and read %. */
export function guardedStage(stage: Stage, canaryPercent: number): boolean {
  return stage === 'reads' || (stage === 'canary' && canaryPercent > 0);
}

export function idleReason(stage: Stage): string {
  return stage === 'canary'
    ? 'the canary is at 0 %: the service serves no reads'
    : `${stage} is not guarded (only canary and reads are)`;
}

export function judgeReads(numbers: GuardNumbers, policy: GuardPolicy): GuardVerdict {
  const { service, monolith } = numbers;
  const short: string[] = [];
  if (service.requests < policy.minRequests) short.push(`${service.requests} service reads`);
  if (monolith.requests < policy.minRequests) {
    short.push(`${monolith.requests} monolith reads (also before the last move, and none remembered)`);
  }
  if (short.length > 0) {
    return {
      kind: 'waiting',
      reason: `${short.join(' and ')} in the window; need ${policy.minRequests} on each side to judge`,
      numbers,
    };
  }
  const reasons = serviceWorseBy(monolith, service, policy);
  return reasons.length > 0 ? { kind: 'worse', reasons, numbers } : { kind: 'healthy', numbers };
}

/**
 * Where a setback takes the read rollout. `earlierPercents`: the canary %
 * the context had before, newest first (from the stage history). At `reads`
 * (100 %) the previous step is the canary % it came from; in `canary` it is
 * the last smaller % it had; else, or with `setback: zero`, 0 %.
 */
export function setbackPercent(
  stage: Stage,
  canaryPercent: number,
  earlierPercents: readonly number[],
  setback: GuardPolicy['setback'],
): number {
  if (setback === 'zero') return 0;
  if (stage === 'reads') return canaryPercent;
  return earlierPercents.find((p) => p < canaryPercent) ?? 0;
}

/** One line with the numbers, for the history, the status and the guard's log. */
export function describeNumbers(n: GuardNumbers): string {
  const side = (name: string, s: SideStats) =>
    `${name} ${s.requests} reads, ${pct(s.errorRate)} errors, p99 ${p99Text(s.p99Ms)}`;
  const baseline =
    n.baseline === 'before-move'
      ? ' (before the last move)'
      : n.baseline === 'remembered'
        ? ` (remembered from ${new Date(n.rememberedAt ?? 0).toISOString().slice(0, 19).replace('T', ' ')}Z)`
        : '';
  return `${side('service', n.service)}; ${side('monolith', n.monolith)}${baseline}`;
}

/** The p99 as text: a bucket bound, or "over 5000 ms" for the last, unbounded bucket. */
export function p99Text(p99Ms: number | null): string {
  if (p99Ms === null) return '–';
  return Number.isFinite(p99Ms) ? `${p99Ms} ms` : 'over 5000 ms';
}
