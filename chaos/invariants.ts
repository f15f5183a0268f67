import type { ScenarioResult } from './harness.ts';

/**
 * What every scenario must show, as a plain function of its measurements
 * (docs/reliability.md, "What every scenario promises"). Timing is reported,
 * never judged: a busy machine makes anything slow.
 */

/** Write failures that are allowed: refused before anything was sent, or a fast 503 with a documented code (docs/errors.md). */
export const ALLOWED_WRITE_FAILURES: ReadonlySet<string> = new Set([
  'connection refused (not sent)',
  '503 ROUTER_WRITES_HELD',
  '503 ROUTER_UPSTREAM_UNAVAILABLE',
  // The database of the side that answered was away; the write may have committed (the audit allows either).
  '503 SERVICE_UNAVAILABLE',
  // Fastify's own answer while a router closes (docs/errors.md, "The response that bypasses the error handler").
  '503 (no code)',
]);

/**
 * Sent to the service, then no answer: in time (504), or before the
 * connection broke (502). The router cannot know whether the service did it,
 * and says so; the audit then finds such a write in both databases or in
 * neither. Only where the service answers the request: a login from canary
 * on, a write from writes on.
 */
export const UNKNOWN_OUTCOME_FAILURES: ReadonlySet<string> = new Set([
  '504 ROUTER_UPSTREAM_TIMEOUT',
  '502 ROUTER_UPSTREAM_BROKEN',
]);

/**
 * A login is a POST: the router never sends it twice (invariant 3), so one the
 * service cannot answer is not retried at the monolith; it fails with the
 * router's documented 503, or its 504 / 502 when the service is slow or dies
 * while answering.
 */
export const ALLOWED_LOGIN_FAILURES: ReadonlySet<string> = new Set([
  ...ALLOWED_WRITE_FAILURES,
  ...UNKNOWN_OUTCOME_FAILURES,
]);

const SERVICE_OWNS_WRITES: ReadonlySet<string> = new Set(['writes', 'complete']);

/** Every broken promise of a scenario, in words; empty when it holds. */
export function invariantProblems(r: ScenarioResult): string[] {
  const problems: string[] = [];
  if (r.audit.lost.length > 0) problems.push(`acknowledged writes lost: ${r.audit.lost.slice(0, 5).join(', ')}`);
  if (r.audit.halfApplied.length > 0) {
    problems.push(`writes half-applied: ${r.audit.halfApplied.slice(0, 5).join(', ')}`);
  }
  if (r.drift.forward !== 0 || r.drift.reverse !== 0) {
    problems.push(`drift ${r.drift.forward} monolith → service, ${r.drift.reverse} service → monolith`);
  }
  const reads = Object.keys(r.failures.read);
  if (reads.length > 0) problems.push(`reads failed while the monolith was up: ${reads.join(', ')}`);
  const logins = Object.keys(r.failures.login).filter((label) => !ALLOWED_LOGIN_FAILURES.has(label));
  if (logins.length > 0) problems.push(`logins failed otherwise than documented: ${logins.join(', ')}`);
  const unknownAllowed = SERVICE_OWNS_WRITES.has(r.stage);
  const writes = Object.keys(r.failures.write).filter(
    (label) =>
      !ALLOWED_WRITE_FAILURES.has(label) &&
      !(unknownAllowed && UNKNOWN_OUTCOME_FAILURES.has(label)) &&
      // HTTP/1.1's keep-alive race: the audit finds such a write in both databases or in neither.
      !(r.connectionsMayBreak && label.startsWith('connection broken')),
  );
  if (writes.length > 0) problems.push(`writes failed otherwise than fast and documented: ${writes.join(', ')}`);
  if (r.ackedWrites === 0) problems.push('no write was acknowledged: the load did not run');
  return problems;
}
