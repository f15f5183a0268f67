import { describe, expect, it } from 'vitest';
import {
  DEFAULT_GUARD_POLICY,
  type GuardNumbers,
  guardedStage,
  judgeReads,
  setbackPercent,
} from '../../src/stages/guard.ts';

const side = (requests: number, errors: number, p99Ms: number | null) => ({
  requests,
  errors,
  errorRate: requests ? errors / requests : 0,
  p99Ms,
});

const numbers = (service: ReturnType<typeof side>, monolith: ReturnType<typeof side>): GuardNumbers => ({
  service,
  monolith,
  baseline: 'window',
  fromSeconds: 0,
  toSeconds: 120,
});

const policy = DEFAULT_GUARD_POLICY;

describe('judgeReads', () => {
  it('calls a service no worse than the monolith healthy', () => {
    expect(judgeReads(numbers(side(300, 3, 25), side(900, 5, 25)), policy).kind).toBe('healthy');
  });

  it('finds a service worse on errors, with both rates in the reason', () => {
    const v = judgeReads(numbers(side(300, 30, 25), side(900, 9, 25)), policy);
    expect(v.kind).toBe('worse');
    expect(v.kind === 'worse' && v.reasons).toEqual([
      "service error rate 10.00 % is worse than the monolith's 1.00 % by more than 2.00 %",
    ]);
  });

  it('finds a service worse on p99 only past the margin', () => {
    expect(judgeReads(numbers(side(300, 0, 250), side(900, 0, 5)), policy).kind).toBe('healthy');
    const v = judgeReads(numbers(side(300, 0, 500), side(900, 0, 5)), policy);
    expect(v.kind === 'worse' && v.reasons).toEqual([
      "service p99 500 ms is worse than the monolith's 5 ms by more than 250 ms",
    ]);
  });

  it('waits, whatever the numbers, until each side has the minimum of reads', () => {
    const fewService = judgeReads(numbers(side(99, 99, 5000), side(900, 0, 5)), policy);
    expect(fewService).toMatchObject({ kind: 'waiting', reason: expect.stringContaining('99 service reads') });
    const fewMonolith = judgeReads(numbers(side(300, 300, 5000), side(10, 0, 5)), policy);
    expect(fewMonolith).toMatchObject({ kind: 'waiting', reason: expect.stringContaining('10 monolith reads') });
  });
});

describe('setbackPercent', () => {
  it('in canary, goes back to the last smaller % the history holds, else 0', () => {
    expect(setbackPercent('canary', 25, [25, 10, 5], 'previous')).toBe(10);
    expect(setbackPercent('canary', 10, [10, 25, 10, 5], 'previous')).toBe(5);
    expect(setbackPercent('canary', 10, [10], 'previous')).toBe(0);
  });

  it('at reads, goes back to the canary % it came from', () => {
    expect(setbackPercent('reads', 50, [50, 10], 'previous')).toBe(50);
  });

  it('with setback zero, goes to 0 % from anywhere', () => {
    expect(setbackPercent('canary', 25, [25, 10], 'zero')).toBe(0);
    expect(setbackPercent('reads', 50, [50], 'zero')).toBe(0);
  });
});

describe('guardedStage', () => {
  it('guards canary above 0 % and reads, nothing else', () => {
    expect(guardedStage('canary', 10)).toBe(true);
    expect(guardedStage('canary', 0)).toBe(false);
    expect(guardedStage('reads', 100)).toBe(true);
    for (const stage of ['legacy', 'sync', 'shadow', 'writes', 'complete'] as const) {
      expect(guardedStage(stage, 0)).toBe(false);
    }
  });
});
