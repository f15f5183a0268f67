import type { TrafficWindow } from '@strangler/foundation';
import { checkGate, DEFAULT_POLICY, type GateInputs, type GatePolicy, type GateResult } from './gates.ts';
import { isUnavailable, type Measured } from './measured.ts';
import type { BackfillMeasure, CaptureMeasure } from './probes.ts';
import type { ReconcileRun } from './reconcile-runs.ts';
import type { Stage } from './stages.ts';

/**
 * From what was measured to the gate's verdict. Pure. A number the gate of
 * this move needs but could not read is a refusal naming what is missing and
 * why; numbers the gate does not need may be unavailable.
 */

export interface GateMeasurements {
  capture: Measured<CaptureMeasure>;
  backfill: Measured<BackfillMeasure | null>;
  /** The last reconcile since capture began, or null. */
  reconcile: Measured<ReconcileRun | null>;
  traffic: Measured<TrafficWindow>;
}

type Need = keyof GateMeasurements;

/** Which measurements each stage's gate reads (ADR 0001, "gate to advance"). */
export const GATE_NEEDS: Readonly<Record<Stage, readonly Need[]>> = {
  legacy: [],
  sync: ['backfill', 'reconcile', 'capture'],
  shadow: ['traffic'],
  canary: ['traffic'],
  reads: ['traffic'],
  writes: ['capture'],
  complete: [],
};

const WHAT: Record<Need, string> = {
  capture: 'capture lag',
  backfill: 'backfill progress',
  reconcile: 'the last reconcile',
  traffic: 'the traffic window (Redis)',
};

export interface GateEvaluation extends GateResult {
  inputs: GateInputs;
}

const NO_TRAFFIC = { requests: 0, errorRate: 0, p99Ms: null };

export function gateInputsOf(m: GateMeasurements): GateInputs {
  const capture = isUnavailable(m.capture) ? null : m.capture;
  const backfill = isUnavailable(m.backfill) ? null : m.backfill;
  const run = isUnavailable(m.reconcile) ? null : m.reconcile;
  const traffic = isUnavailable(m.traffic) ? null : m.traffic;
  return {
    backfill: backfill ? { done: backfill.done, rowsDone: backfill.rowsDone, rowsTotal: backfill.rowsTotal } : null,
    drift: run ? run.drift - run.repaired : null,
    lag: capture?.lag ? { seconds: capture.lag.oldestUnappliedSeconds, rows: capture.lag.unappliedRows } : null,
    shadow: traffic
      ? { samples: traffic.shadow.samples, consistency: traffic.shadow.consistency }
      : { samples: 0, consistency: null },
    traffic: traffic
      ? {
          monolith: {
            requests: traffic.monolith.requests,
            errorRate: traffic.monolith.errorRate,
            p99Ms: traffic.monolith.p99Ms,
          },
          service: {
            requests: traffic.service.requests,
            errorRate: traffic.service.errorRate,
            p99Ms: traffic.service.p99Ms,
          },
        }
      : { monolith: NO_TRAFFIC, service: NO_TRAFFIC },
  };
}

export function evaluateGate(from: Stage, m: GateMeasurements, policy: GatePolicy = DEFAULT_POLICY): GateEvaluation {
  const inputs = gateInputsOf(m);
  const missing: string[] = [];
  for (const need of GATE_NEEDS[from]) {
    const value = m[need];
    if (isUnavailable(value)) missing.push(`cannot measure ${WHAT[need]}: ${value.unavailable}`);
  }
  const captureAbsent = !isUnavailable(m.capture) && !m.capture.installed;
  if (GATE_NEEDS[from].includes('capture') && captureAbsent) missing.push('capture is not installed');
  const result = checkGate(from, inputs, policy);
  // The lines above say why the lag is unknown better than the generic one does.
  const reasons = missing.length > 0 ? result.reasons.filter((r) => r !== 'capture lag unknown') : result.reasons;
  const all = [...missing, ...reasons];
  return { ok: all.length === 0, reasons: all, inputs };
}
