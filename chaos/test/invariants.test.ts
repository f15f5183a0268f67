import { describe, expect, it } from 'vitest';
import type { Answer } from '../../migrations/test/journey/load.ts';
import { writeOutcome } from '../../migrations/test/journey/users-workload.ts';
import { failureLabel, kindOf, type ScenarioResult } from '../harness.ts';
import { invariantProblems } from '../invariants.ts';

const clean = (): ScenarioResult => ({
  id: 'x',
  title: 'x',
  stage: 'canary',
  connectionsMayBreak: false,
  requests: 100,
  byKind: { read: { total: 60, failed: 0 }, login: { total: 10, failed: 0 }, write: { total: 30, failed: 0 } },
  failures: { read: {}, login: {}, write: {} },
  failedOver: 0,
  ackedWrites: 30,
  audit: { acked: 30, lost: [], halfApplied: [], unknown: 0 },
  drift: { forward: 0, reverse: 0 },
  faultMs: 1000,
  recoveryMs: 0,
  syncCaughtUpMs: 0,
  serviceReads: { before: 1, during: 0, after: 1 },
  serviceBackMs: 100,
  slowestRefusalMs: 0,
  notes: [],
  wallMs: 5000,
});

const answer = (status: number, code?: string): Answer =>
  ({ status, body: code ? { error: { code, message: '' } } : null, headers: new Headers() }) as Answer;

describe('the invariants of a chaos scenario', () => {
  it('hold for a scenario where nothing failed', () => {
    expect(invariantProblems(clean())).toEqual([]);
  });

  it('allow writes refused before sending and fast documented 503s, nothing else', () => {
    const r = clean();
    r.failures.write = { 'connection refused (not sent)': 3, '503 ROUTER_WRITES_HELD': 1, '503 (no code)': 2 };
    expect(invariantProblems(r)).toEqual([]);
    r.failures.write['500 INTERNAL'] = 1;
    r.failures.write['connection broken (ECONNRESET)'] = 1;
    expect(invariantProblems(r)).toEqual([
      'writes failed otherwise than fast and documented: 500 INTERNAL, connection broken (ECONNRESET)',
    ]);
  });

  it("allow a write whose connection broke only where the fault closes clients' connections", () => {
    const r = clean();
    r.failures.write = { 'connection broken (ECONNRESET)': 1 };
    expect(invariantProblems(r)).toEqual([
      'writes failed otherwise than fast and documented: connection broken (ECONNRESET)',
    ]);
    r.connectionsMayBreak = true;
    expect(invariantProblems(r)).toEqual([]);
  });

  it('allow a write of unknown outcome (504, 502) only where the service owns the writes', () => {
    const r = clean();
    r.failures.write = { '504 ROUTER_UPSTREAM_TIMEOUT': 1, '502 ROUTER_UPSTREAM_BROKEN': 2 };
    expect(invariantProblems(r)).toEqual([
      'writes failed otherwise than fast and documented: 504 ROUTER_UPSTREAM_TIMEOUT, 502 ROUTER_UPSTREAM_BROKEN',
    ]);
    r.stage = 'writes';
    expect(invariantProblems(r)).toEqual([]);
  });

  it('allow a login the service timed out to get the documented 504, never a read', () => {
    const r = clean();
    r.failures.login = { '504 ROUTER_UPSTREAM_TIMEOUT': 1 };
    expect(invariantProblems(r)).toEqual([]);
    r.failures.read = { '503 ROUTER_UPSTREAM_UNAVAILABLE': 1 };
    expect(invariantProblems(r)).toEqual(['reads failed while the monolith was up: 503 ROUTER_UPSTREAM_UNAVAILABLE']);
  });

  it('report lost and half-applied writes, drift, and a load that never wrote', () => {
    const r = clean();
    r.audit.lost = ['service 12'];
    r.audit.halfApplied = ['a@example.test (unknown) in the monolith only'];
    r.drift.reverse = 2;
    r.ackedWrites = 0;
    expect(invariantProblems(r)).toHaveLength(4);
  });
});

describe('what a write’s answer proves', () => {
  it('a 2xx is acknowledged; a refused connection or a 503 that says nothing was sent is not applied', () => {
    expect(writeOutcome(answer(201), false)).toBe('acked');
    expect(writeOutcome(null, true)).toBe('not-applied');
    expect(writeOutcome(answer(503, 'ROUTER_WRITES_HELD'), false)).toBe('not-applied');
    expect(writeOutcome(answer(503, 'ROUTER_UPSTREAM_UNAVAILABLE'), false)).toBe('not-applied');
    expect(writeOutcome(answer(503), false)).toBe('not-applied');
  });

  it('a broken connection, a timeout or a database 503 leaves the outcome unknown', () => {
    expect(writeOutcome(null, false)).toBe('unknown');
    expect(writeOutcome(answer(504, 'ROUTER_UPSTREAM_TIMEOUT'), false)).toBe('unknown');
    expect(writeOutcome(answer(503, 'SERVICE_UNAVAILABLE'), false)).toBe('unknown');
    expect(writeOutcome(answer(500, 'INTERNAL'), false)).toBe('unknown');
  });
});

describe('how the tables name requests and failures', () => {
  it('a GET is a read, a login a read sent as POST, the rest writes', () => {
    expect(kindOf('GET', 'read')).toBe('read');
    expect(kindOf('POST', 'login')).toBe('login');
    expect(kindOf('PUT', 'update')).toBe('write');
  });

  it('labels a failure by status and code, or by how the connection failed', () => {
    const base = { at: 0, method: 'POST', route: 'register', ms: 5 };
    expect(failureLabel({ ...base, status: 0, code: 'ECONNREFUSED', network: 'refused' })).toBe(
      'connection refused (not sent)',
    );
    expect(failureLabel({ ...base, status: 0, code: 'UND_ERR_SOCKET', network: 'broken' })).toBe(
      'connection broken (UND_ERR_SOCKET)',
    );
    expect(failureLabel({ ...base, status: 503, code: undefined })).toBe('503 (no code)');
  });
});
