import { describe, expect, it } from 'vitest';
import { checkGate, DEFAULT_POLICY, type GateInputs } from '../../src/stages/gates.ts';
import { flagsForStage, nextStage, previousStage, STAGES } from '../../src/stages/stages.ts';

const healthy: GateInputs = {
  backfill: { done: true, rowsDone: 1000, rowsTotal: 1000 },
  drift: 0,
  lag: { seconds: 0.2, rows: 3 },
  shadow: { samples: 500, consistency: 1 },
  traffic: {
    monolith: { requests: 1000, errorRate: 0.001, p99Ms: 25 },
    service: { requests: 400, errorRate: 0.002, p99Ms: 50 },
  },
};

describe('stages', () => {
  it('go forward and back one at a time, legacy to complete', () => {
    expect(STAGES).toEqual(['legacy', 'sync', 'shadow', 'canary', 'reads', 'writes', 'complete']);
    expect(nextStage('legacy')).toBe('sync');
    expect(nextStage('complete')).toBeNull();
    expect(previousStage('writes')).toBe('reads');
    expect(previousStage('legacy')).toBeNull();
  });

  it('give writes to the service only from the writes stage on', () => {
    for (const stage of STAGES) {
      const owner = flagsForStage(stage, 25).writeOwner;
      expect(owner).toBe(stage === 'writes' || stage === 'complete' ? 'service' : 'monolith');
    }
    expect(flagsForStage('canary', 25).readPercent).toBe(25);
    expect(flagsForStage('shadow', 25)).toEqual({ shadowPercent: 100, readPercent: 0, writeOwner: 'monolith' });
  });
});

describe('checkGate', () => {
  it('lets every stage but the last advance when the numbers are healthy', () => {
    for (const stage of STAGES.slice(0, -1)) expect(checkGate(stage, healthy)).toEqual({ ok: true, reasons: [] });
    expect(checkGate('complete', healthy).ok).toBe(false);
  });

  it('refuses sync → shadow with every unmet condition and its numbers', () => {
    const result = checkGate('sync', {
      ...healthy,
      backfill: { done: false, rowsDone: 400, rowsTotal: 1000 },
      drift: 3,
      lag: { seconds: 12.5, rows: 900 },
    });
    expect(result.ok).toBe(false);
    expect(result.reasons).toEqual([
      'backfill not done: 400 of 1000 rows',
      'drift is 3 rows; it must be 0 (reconcile --repair)',
      'capture lag 12.5 s (900 rows) is over 5 s',
    ]);
  });

  it('asks for a reconcile when drift was never measured', () => {
    expect(checkGate('sync', { ...healthy, drift: null }).reasons).toEqual([
      'no reconcile has run yet: run one to measure drift',
    ]);
  });

  it('refuses shadow → canary below the consistency threshold or the sample minimum', () => {
    expect(checkGate('shadow', { ...healthy, shadow: { samples: 50, consistency: 1 } }).reasons).toEqual([
      'only 50 shadow comparisons; need 200',
    ]);
    expect(checkGate('shadow', { ...healthy, shadow: { samples: 1000, consistency: 0.98 } }).reasons).toEqual([
      'shadow consistency 98.00 % is under 99.90 %',
    ]);
  });

  it('refuses canary → reads when the service is worse than the monolith beyond the margins', () => {
    const worse = checkGate('canary', {
      ...healthy,
      traffic: {
        monolith: { requests: 1000, errorRate: 0.001, p99Ms: 25 },
        service: { requests: 500, errorRate: 0.05, p99Ms: 500 },
      },
    });
    expect(worse.reasons).toEqual([
      "service error rate 5.00 % is worse than the monolith's 0.10 % by more than 0.50 %",
      "service p99 500 ms is worse than the monolith's 25 ms by more than 50 ms",
    ]);
  });

  it('does not judge a quiet window: too few service requests is a refusal, not a pass', () => {
    const quiet = { ...healthy, traffic: { ...healthy.traffic, service: { requests: 10, errorRate: 0, p99Ms: 5 } } };
    expect(checkGate('canary', quiet).reasons).toEqual([
      `only 10 service requests in the window; need ${DEFAULT_POLICY.minRequests} to compare`,
    ]);
  });
});
