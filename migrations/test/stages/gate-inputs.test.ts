import type { TrafficWindow } from '@strangler/foundation';
import { describe, expect, it } from 'vitest';
import { evaluateGate, type GateMeasurements, gateInputsOf } from '../../src/stages/gate-inputs.ts';
import { describeFailure, isUnavailable, measure } from '../../src/stages/measured.ts';
import type { ReconcileRun } from '../../src/stages/reconcile-runs.ts';

const side = (requests: number, errorRate: number, p99Ms: number | null) => ({
  requests,
  errors: Math.round(requests * errorRate),
  errorRate,
  p99Ms,
});

const traffic: TrafficWindow = {
  context: 'users',
  fromSeconds: 0,
  toSeconds: 300,
  monolith: side(1000, 0.001, 25),
  service: side(400, 0.001, 50),
  reads: { monolith: side(800, 0.001, 25), service: side(400, 0.001, 50) },
  shadow: { match: 500, mismatch: 0, error: 0, samples: 500, consistency: 1 },
};

const run = (drift: number, repaired = 0): ReconcileRun => ({
  id: 1,
  context: 'users',
  channel: 'users-forward',
  drift,
  missing: drift,
  extra: 0,
  different: 0,
  unmapped: 0,
  repaired,
  repairFailed: 0,
  rowsCompared: 100,
  ms: 5,
  actor: 'test',
  ranAt: new Date(0),
});

const healthy: GateMeasurements = {
  capture: { installed: true, lag: { oldestUnappliedSeconds: 0.5, unappliedRows: 2, unrelayedRows: 0 } },
  backfill: { tables: [], rowsDone: 100, rowsTotal: 100, done: true },
  reconcile: run(0),
  traffic,
};

describe('evaluateGate', () => {
  it('passes sync → shadow with the backfill done, drift 0 and the lag under the bound', () => {
    expect(evaluateGate('sync', healthy)).toMatchObject({ ok: true, reasons: [] });
  });

  it('counts drift left after a repair, not the drift found', () => {
    expect(gateInputsOf({ ...healthy, reconcile: run(3, 3) }).drift).toBe(0);
    expect(evaluateGate('sync', { ...healthy, reconcile: run(3, 1) }).reasons).toEqual([
      'drift is 2 rows; it must be 0 (reconcile --repair)',
    ]);
  });

  it('refuses when a number the gate needs could not be measured, saying which and why', () => {
    const result = evaluateGate('sync', {
      ...healthy,
      capture: { unavailable: 'connect ECONNREFUSED 127.0.0.1:5432' },
    });
    expect(result.ok).toBe(false);
    expect(result.reasons).toEqual(['cannot measure capture lag: connect ECONNREFUSED 127.0.0.1:5432']);
  });

  it('says capture is not installed rather than "lag unknown"', () => {
    expect(evaluateGate('sync', { ...healthy, capture: { installed: false, lag: null } }).reasons).toEqual([
      'capture is not installed',
    ]);
  });

  it('ignores measurements the gate does not read', () => {
    const redisDown = { ...healthy, traffic: { unavailable: 'Redis at redis://x: ECONNREFUSED' } };
    expect(evaluateGate('sync', redisDown).ok).toBe(true);
    expect(evaluateGate('shadow', redisDown).reasons).toEqual([
      'cannot measure the traffic window (Redis): Redis at redis://x: ECONNREFUSED',
      'only 0 shadow comparisons; need 200',
    ]);
  });

  it('reads shadow consistency and both sides’ numbers from the traffic window', () => {
    expect(gateInputsOf(healthy)).toMatchObject({
      shadow: { samples: 500, consistency: 1 },
      traffic: { service: { requests: 400, p99Ms: 50 }, monolith: { requests: 1000, p99Ms: 25 } },
    });
    expect(evaluateGate('canary', healthy).ok).toBe(true);
  });
});

describe('measure', () => {
  it('turns a failure or a slow answer into "unavailable" with one line of why', async () => {
    expect(await measure(async () => 42)).toBe(42);
    const failed = await measure(async () => {
      throw new Error('database "x" does not exist\n    at somewhere');
    });
    expect(failed).toEqual({ unavailable: 'database "x" does not exist' });
    const slow = await measure(() => new Promise<number>((resolve) => setTimeout(() => resolve(1), 500)), 20);
    expect(isUnavailable(slow) && slow.unavailable).toBe('no answer within 0.02 s');
  });

  it('explains the empty AggregateError of a refused localhost connection', () => {
    const inner = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(describeFailure(new AggregateError([inner], ''))).toBe('connect ECONNREFUSED 127.0.0.1:1');
  });
});
