import { describe, expect, it } from 'vitest';
import { type ConnectionHistory, deriveState, describeState } from '../src/client-state.ts';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const STALE_AFTER = 3_000;

const history = (over: Partial<ConnectionHistory>): ConnectionHistory => ({
  initialSource: null,
  backupSavedAt: null,
  lastSuccessAt: null,
  failingSince: null,
  lastError: null,
  ...over,
});

describe('deriveState', () => {
  it('is none when Unleash never answered and nothing was loaded', () => {
    expect(deriveState(history({ lastError: 'refused' }), NOW, STALE_AFTER)).toEqual({
      kind: 'none',
      lastError: 'refused',
    });
  });

  it('is bootstrap-only, with the source, until Unleash first answers', () => {
    const savedAt = new Date(NOW - 60_000);
    expect(deriveState(history({ initialSource: 'backup', backupSavedAt: savedAt }), NOW, STALE_AFTER)).toEqual({
      kind: 'bootstrap-only',
      source: 'backup',
      savedAt,
      lastError: null,
    });
    expect(deriveState(history({ initialSource: 'bootstrap' }), NOW, STALE_AFTER).kind).toBe('bootstrap-only');
  });

  it('is fresh while the last answer is within 3 refresh intervals, even after a failed poll', () => {
    const state = deriveState(
      history({ lastSuccessAt: NOW - 2_999, failingSince: NOW - 500, lastError: 'blip' }),
      NOW,
      STALE_AFTER,
    );
    expect(state).toEqual({ kind: 'fresh', updatedAt: new Date(NOW - 2_999) });
  });

  it('is stale since the first failure once the last answer is too old', () => {
    const state = deriveState(
      history({ lastSuccessAt: NOW - 10_000, failingSince: NOW - 9_000, lastError: 'ECONNREFUSED' }),
      NOW,
      STALE_AFTER,
    );
    expect(state).toEqual({
      kind: 'stale',
      since: new Date(NOW - 9_000),
      updatedAt: new Date(NOW - 10_000),
      lastError: 'ECONNREFUSED',
    });
  });

  it('does not move `since` forward when the failure is reported after the flags went stale', () => {
    const state = deriveState(
      history({ lastSuccessAt: NOW - 10_000, failingSince: NOW - 1_000, lastError: 'late' }),
      NOW,
      STALE_AFTER,
    );
    expect(state.kind === 'stale' && state.since).toEqual(new Date(NOW - 10_000 + STALE_AFTER));
  });

  it('says why when a request hangs without a failure', () => {
    const state = deriveState(history({ lastSuccessAt: NOW - 10_000 }), NOW, STALE_AFTER);
    expect(state.kind).toBe('stale');
    expect(state.kind === 'stale' && state.lastError).toMatch(/no answer from Unleash since/);
  });
});

describe('describeState', () => {
  it('gives one line per state', () => {
    expect(describeState({ kind: 'fresh', updatedAt: new Date(NOW - 400) }, NOW)).toBe(
      'fresh (Unleash answered 0.4 s ago)',
    );
    expect(describeState({ kind: 'none', lastError: null }, NOW)).toMatch(/every route goes to the monolith/);
    for (const line of [
      describeState({ kind: 'stale', since: new Date(NOW), updatedAt: new Date(NOW), lastError: 'x' }, NOW),
      describeState({ kind: 'bootstrap-only', source: 'backup', savedAt: null, lastError: 'y' }, NOW),
    ]) {
      expect(line).not.toContain('\n');
    }
  });
});
