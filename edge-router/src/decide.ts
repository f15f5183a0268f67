import { type FlagSnapshot, flagName, inRollout, writeOwnerIn } from '@strangler/flags';
import type { RouteMatch } from './routes.ts';

/**
 * Where one request goes, decided from the route, the flags and who is asking.
 * Pure: no I/O, no clock, no randomness of its own (the shadow sample is an
 * input), so every rule of the stage machine is testable as a table.
 */

export type Target = 'monolith' | 'service';

export type Reason =
  | 'unrouted' // no rule matches: the monolith by default
  | 'kill-switch' // the kill switch sends everything to the monolith
  | 'no-service' // the context has no extracted service configured
  | 'legacy' // flags keep this route on the monolith
  | 'write-owner' // writes go to the side that owns them
  | 'reads' // the service serves all reads
  | 'canary' // this user is in the read rollout
  | 'read-your-writes'; // this client wrote to the context moments ago: its reads go to the write owner

export interface Decision {
  target: Target;
  reason: Reason;
  /** The route's bounded context, or null for an unrouted request. */
  context: string | null;
  /** On a service failure, answer from the monolith instead (idempotent reads only). */
  fallback: boolean;
  /** After answering from the monolith, mirror the request to the service and compare. */
  shadow: boolean;
}

export interface DecisionInput {
  match: RouteMatch | null;
  method: string;
  flags: FlagSnapshot;
  /** Contexts that have a service to send to. */
  services: ReadonlySet<string>;
  /**
   * The user id from the token, else the session id: what rollout stickiness
   * keys on. A function is called only when a rollout is in progress, so no
   * session cookie is minted for requests that do not need one.
   */
  stickyId: string | (() => string);
  /** A uniform sample in [0, 100) for the shadow rate. */
  shadowSample: number;
  /**
   * This client wrote to the route's context within the read-your-writes
   * window (a cookie the router set): its reads go to the side that took the
   * write, not to one the sync may not have reached yet.
   */
  recentWrite?: boolean;
}

const IDEMPOTENT = new Set(['GET', 'HEAD']);

function monolith(reason: Reason, context: string | null, shadow = false): Decision {
  return { target: 'monolith', reason, context, fallback: false, shadow };
}

export function decide({
  match,
  method,
  flags,
  services,
  stickyId,
  shadowSample,
  recentWrite = false,
}: DecisionInput): Decision {
  if (!match) return monolith('unrouted', null);
  const context = match.rule.context;
  if (flags.killSwitch) return monolith('kill-switch', context);
  const contextFlags = (flags.contexts as Readonly<Record<string, FlagSnapshot['contexts']['users'] | undefined>>)[
    context
  ];
  if (!contextFlags || !services.has(context)) return monolith('no-service', context);

  if (match.rule.access === 'write') {
    // Exactly one owner: the write goes there and nowhere else, and is never retried.
    return writeOwnerOf(flags, services, context) === 'service'
      ? { target: 'service', reason: 'write-owner', context, fallback: false, shadow: false }
      : monolith('write-owner', context);
  }

  const idempotent = IDEMPOTENT.has(method);
  // The monolith took this client's recent write, and the service may not have it yet.
  if (recentWrite && contextFlags.writeOwner === 'monolith' && contextFlags.readPercent > 0) {
    return monolith('read-your-writes', context);
  }
  if (contextFlags.writeOwner === 'service' || contextFlags.readPercent >= 100) {
    return { target: 'service', reason: 'reads', context, fallback: idempotent, shadow: false };
  }
  const inCanary =
    contextFlags.readPercent > 0 &&
    inRollout(
      flagName(context as 'users', 'reads'),
      typeof stickyId === 'function' ? stickyId() : stickyId,
      contextFlags.readPercent,
    );
  if (inCanary) {
    return { target: 'service', reason: 'canary', context, fallback: idempotent, shadow: false };
  }
  // Only idempotent reads are mirrored: a mirrored request must be harmless.
  return monolith('legacy', context, idempotent && shadowSample < contextFlags.shadowPercent);
}

/**
 * Who this router sends a context's writes to under `flags`: what it reports
 * to the write fence, so a cutover knows when every router follows the flip.
 */
export function writeOwnerOf(
  flags: FlagSnapshot,
  services: ReadonlySet<string>,
  context: string,
): 'monolith' | 'service' {
  return services.has(context) ? writeOwnerIn(flags, context) : 'monolith';
}

/**
 * Whether a write's answer should pin the client's reads of the context to
 * the write owner for a while: only when some of those reads would go to the
 * other side, which may not have the write yet.
 */
export function pinsReads(flags: FlagSnapshot, services: ReadonlySet<string>, context: string): boolean {
  if (writeOwnerOf(flags, services, context) === 'service') return false;
  const contextFlags = (flags.contexts as Readonly<Record<string, FlagSnapshot['contexts']['users'] | undefined>>)[
    context
  ];
  return (contextFlags?.readPercent ?? 0) > 0;
}
