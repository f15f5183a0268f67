import type { Stage } from './stages.ts';

/**
 * The gate of each forward move (docs/adr/0001, "gate to advance"), as a pure
 * function of measured numbers and a policy. A refusal carries every unmet
 * condition with its numbers, so the operator sees why and by how much.
 */

export interface GatePolicy {
  /** sync → shadow: capture lag must be under this. */
  maxLagSeconds: number;
  /** shadow → canary: shadow consistency at least this, over at least `minShadowSamples`. */
  minConsistency: number;
  minShadowSamples: number;
  /** canary → reads, reads → writes: the service may be worse than the monolith by at most these margins. */
  errorRateMargin: number;
  p99MarginMs: number;
  minRequests: number;
}

export const DEFAULT_POLICY: GatePolicy = Object.freeze({
  maxLagSeconds: 5,
  minConsistency: 0.999,
  minShadowSamples: 200,
  errorRateMargin: 0.005,
  p99MarginMs: 50,
  minRequests: 200,
});

export interface SideNumbers {
  requests: number;
  errorRate: number;
  p99Ms: number | null;
}

export interface GateInputs {
  backfill: { done: boolean; rowsDone: number; rowsTotal: number | null } | null;
  /** Rows that differ at the last reconcile, or null when none has run since capture began. */
  drift: number | null;
  lag: { seconds: number; rows: number } | null;
  shadow: { samples: number; consistency: number | null };
  traffic: { monolith: SideNumbers; service: SideNumbers };
}

export interface GateResult {
  ok: boolean;
  /** One line per unmet condition, with the numbers; empty when ok. */
  reasons: string[];
}

/** A p99 bucket bound as text; the last bucket has none. */
const p99Of = (ms: number) => (Number.isFinite(ms) ? `${ms} ms` : 'over 5000 ms');

export const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

/**
 * Every way the service is worse than the monolith by more than the margins,
 * with the numbers; empty when it is not. The gates and the guarded rollout
 * (guard.ts) share it.
 */
export function serviceWorseBy(
  monolith: SideNumbers,
  service: SideNumbers,
  margins: Pick<GatePolicy, 'errorRateMargin' | 'p99MarginMs'>,
): string[] {
  const reasons: string[] = [];
  if (service.errorRate > monolith.errorRate + margins.errorRateMargin) {
    reasons.push(
      `service error rate ${pct(service.errorRate)} is worse than the monolith's ${pct(monolith.errorRate)} by more than ${pct(margins.errorRateMargin)}`,
    );
  }
  if (service.p99Ms !== null && monolith.p99Ms !== null && service.p99Ms > monolith.p99Ms + margins.p99MarginMs) {
    reasons.push(
      `service p99 ${p99Of(service.p99Ms)} is worse than the monolith's ${p99Of(monolith.p99Ms)} by more than ${margins.p99MarginMs} ms`,
    );
  }
  return reasons;
}

function serviceNoWorse(inputs: GateInputs, policy: GatePolicy, reasons: string[]): void {
  const { monolith, service } = inputs.traffic;
  if (service.requests < policy.minRequests) {
    reasons.push(`only ${service.requests} service requests in the window; need ${policy.minRequests} to compare`);
    return;
  }
  reasons.push(...serviceWorseBy(monolith, service, policy));
}

/** Whether `from` may advance one stage. */
export function checkGate(from: Stage, inputs: GateInputs, policy: GatePolicy = DEFAULT_POLICY): GateResult {
  const reasons: string[] = [];
  switch (from) {
    case 'legacy':
      break;
    case 'sync': {
      const b = inputs.backfill;
      if (!b?.done) {
        reasons.push(b ? `backfill not done: ${b.rowsDone} of ${b.rowsTotal ?? '?'} rows` : 'backfill has not run');
      }
      if (inputs.drift === null) reasons.push('no reconcile has run yet: run one to measure drift');
      else if (inputs.drift > 0) reasons.push(`drift is ${inputs.drift} rows; it must be 0 (reconcile --repair)`);
      if (!inputs.lag) reasons.push('capture lag unknown');
      else if (inputs.lag.seconds > policy.maxLagSeconds) {
        reasons.push(
          `capture lag ${inputs.lag.seconds.toFixed(1)} s (${inputs.lag.rows} rows) is over ${policy.maxLagSeconds} s`,
        );
      }
      break;
    }
    case 'shadow': {
      const { samples, consistency } = inputs.shadow;
      if (samples < policy.minShadowSamples) {
        reasons.push(`only ${samples} shadow comparisons; need ${policy.minShadowSamples}`);
      } else if (consistency === null || consistency < policy.minConsistency) {
        reasons.push(
          `shadow consistency ${consistency === null ? 'unknown' : pct(consistency)} is under ${pct(policy.minConsistency)}`,
        );
      }
      break;
    }
    case 'canary':
    case 'reads':
      serviceNoWorse(inputs, policy, reasons);
      break;
    case 'writes':
      if (inputs.lag && inputs.lag.seconds > policy.maxLagSeconds) {
        reasons.push(`reverse sync lag ${inputs.lag.seconds.toFixed(1)} s is over ${policy.maxLagSeconds} s`);
      }
      break;
    case 'complete':
      reasons.push('complete is the last stage');
      break;
  }
  return { ok: reasons.length === 0, reasons };
}
