import { type FenceCoordinator, type FenceHold, FenceWaitTimeout, type WriteOwner } from '@strangler/foundation';
import { installCapture, isCaptureInstalled } from '../sync/capture.ts';
import type { SyncChannel } from '../sync/channel.ts';
import type { SyncDatabases } from '../sync/databases.ts';
import { listDeadLetters } from '../sync/dead-letters.ts';
import { captureLag } from '../sync/outbox.ts';
import { handOverSequences } from '../sync/sequences.ts';
import type { ContextName } from './contexts.ts';
import type { StageFlags } from './stages.ts';

/**
 * The write cutover (docs/adr/0012): hold, drain, switch, release.
 *
 * 1. Before holding anything: the channel that is to drain has no dead
 *    letters and is not far behind, and capture on the new owner's database
 *    is installed (its changes flow back from the first write on).
 * 2. Hold: every router stops admitting writes of the context and finishes
 *    the ones in flight (the write fence, in Redis).
 * 3. Drain: every change captured on the old owner's side is applied on the
 *    new owner's side.
 * 4. Switch: the new owner's id sequences move past every id used so far,
 *    then the flags give it the writes, and every router must report that it
 *    sees the new owner.
 * 5. Release: held writes go on, to the new owner.
 *
 * All of it within one budget, shorter than a router keeps a held write
 * waiting (the Unleash calls of the switch have their own timeouts, outside
 * it). Any failure before the switch releases the hold and changes nothing
 * (a sequence moved forward is harmless); a failure during the switch puts
 * the flags back first, waiting at least a second for the routers to follow.
 */

export interface CutoverBounds {
  /** The whole hold, from setting it to releasing it. Must be under the routers' WRITE_HOLD_MAX_MS. */
  holdMs: number;
  /** Of that, the longest the drain may take. */
  drainMs: number;
  /** Refuse to start when the channel to drain is further behind than this. */
  maxLagSecondsToStart: number;
}

export const DEFAULT_CUTOVER_BOUNDS: Readonly<CutoverBounds> = Object.freeze({
  holdMs: 4_000,
  drainMs: 2_000,
  maxLagSecondsToStart: 2,
});

export interface CutoverDeps {
  context: ContextName;
  /** The channel that carries the old owner's writes to the new owner; drained. */
  draining: { channel: SyncChannel; db: SyncDatabases };
  /** The channel that carries the new owner's writes back; its capture is installed. */
  starting: { channel: SyncChannel; db: SyncDatabases };
  newOwner: WriteOwner;
  /** The flags of the stage after the cutover, and of the stage before it (to undo a failed switch). */
  flags: StageFlags;
  previousFlags: StageFlags;
  fence: FenceCoordinator;
  /** Brings the context's flags to a stage's (effects.ts setFlags). */
  setFlags: (flags: StageFlags) => Promise<void>;
  actor: string;
  bounds: CutoverBounds;
  /** Go ahead although no router reports to the fence (writes that bypass a fenced router are not held). */
  allowNoRouters?: boolean;
  print: (line: string) => void;
}

export interface CutoverReport {
  heldMs: number;
  routers: number;
  drainedRows: number;
  drainMs: number;
  sequences: Array<{ table: string; next: number }>;
}

/** The cutover did not happen; nothing changed. */
export class CutoverAbortedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CutoverAbortedError';
  }
}

const POLL_MS = 20;

async function drain(deps: CutoverDeps, deadline: number): Promise<{ rows: number; ms: number }> {
  const { channel, db } = deps.draining;
  const started = performance.now();
  let first: number | null = null;
  for (;;) {
    const lag = await captureLag(channel, { db });
    first ??= lag.unappliedRows;
    const dead = await listDeadLetters(channel, { db, limit: 1 });
    if (dead.length > 0) {
      throw new CutoverAbortedError(
        `a change of ${channel.name} went to the dead letters during the drain (${dead[0]?.reason}); fix it, then retry`,
      );
    }
    if (lag.unappliedRows === 0) return { rows: first, ms: Math.round(performance.now() - started) };
    if (performance.now() >= deadline) {
      throw new CutoverAbortedError(
        `the drain of ${channel.name} did not finish within ${deps.bounds.drainMs} ms: ${lag.unappliedRows} changes still unapplied (${lag.unrelayedRows} not yet relayed); are \`pnpm sync:worker ${deps.context}\` workers running?`,
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function preflight(deps: CutoverDeps): Promise<void> {
  const { channel, db } = deps.draining;
  if (!(await isCaptureInstalled(db.source, channel))) {
    throw new CutoverAbortedError(`capture of ${channel.name} is not installed: there is no sync to drain`);
  }
  const dead = await listDeadLetters(channel, { db, limit: 1000 });
  if (dead.length > 0) {
    throw new CutoverAbortedError(
      `${channel.name} has ${dead.length} dead letters: those changes never reached the other side. Look at them with \`pnpm strangler status ${deps.context}\`, fix them, then retry`,
    );
  }
  const lag = await captureLag(channel, { db });
  if (lag.oldestUnappliedSeconds > deps.bounds.maxLagSecondsToStart) {
    throw new CutoverAbortedError(
      `${channel.name} is ${lag.oldestUnappliedSeconds.toFixed(1)} s behind (${lag.unappliedRows} changes); writes would be held too long. Start or add \`pnpm sync:worker ${deps.context}\` workers and retry`,
    );
  }
  await installCapture(deps.starting.db.source, deps.starting.channel);
}

/** Keeps the hold from lapsing while the cutover runs; reports when it lapsed anyway. */
function keepAlive(deps: CutoverDeps, hold: FenceHold): { stop: () => void; lost: () => boolean } {
  let lost = false;
  const ttl = deps.bounds.holdMs + 2_000;
  const timer = setInterval(() => {
    deps.fence.refresh(hold, ttl).then(
      (ok) => {
        if (!ok) lost = true;
      },
      () => {},
    );
  }, 500);
  return { stop: () => clearInterval(timer), lost: () => lost };
}

/** "2 router(s)", or "2 router(s) and 1 ShopCo process(es)" when ShopCo takes part (its stock follows products). */
function describeMembers(members: readonly { kind?: string }[]): string {
  const shopco = members.filter((m) => m.kind === 'shopco').length;
  const routers = `${members.length - shopco} router(s)`;
  return shopco > 0 ? `${routers} and ${shopco} ShopCo process(es)` : routers;
}

export async function cutover(deps: CutoverDeps): Promise<CutoverReport> {
  const { context, fence, bounds } = deps;
  await preflight(deps);

  const members = await fence.members();
  if (members.length === 0) {
    const what =
      'no router reports to the write fence, so no write can be held: routers join it when they run with REDIS_URL (and the same FENCE_KEY_PREFIX)';
    if (!deps.allowNoRouters) throw new CutoverAbortedError(`${what}; --force goes ahead anyway`);
    deps.print(`WARNING: ${what}; going ahead (--force)`);
  }
  const hold = await fence.hold(context, deps.actor, bounds.holdMs + 2_000);
  const started = performance.now();
  const deadline = started + bounds.holdMs;
  const left = () => Math.max(0, Math.round(deadline - performance.now()));
  const alive = keepAlive(deps, hold);
  let switched = false;
  try {
    const routers = await fence.waitHeld(hold, left());
    deps.print(`writes of ${context} held by ${describeMembers(routers)}`);
    const drained = await drain(deps, Math.min(deadline, performance.now() + bounds.drainMs));
    deps.print(`drained ${deps.draining.channel.name}: ${drained.rows} changes applied in ${drained.ms} ms`);
    if (alive.lost()) throw new CutoverAbortedError('the hold lapsed before the switch');

    const sequences = await handOverSequences(deps.draining.channel, { db: deps.draining.db });
    for (const s of sequences) deps.print(`sequence ${s.sequence} handed over: the next id is ${s.after + 1}`);
    switched = true;
    await deps.setFlags(deps.flags);
    await fence.waitOwner(context, deps.newOwner, left());
    const heldMs = Math.round(performance.now() - started);
    return {
      heldMs,
      routers: routers.length,
      drainedRows: drained.rows,
      drainMs: drained.ms,
      sequences: sequences.map((s) => ({ table: s.table, next: s.after + 1 })),
    };
  } catch (err) {
    if (switched) await undoSwitch(deps, Math.max(left(), 1_000));
    if (err instanceof FenceWaitTimeout || err instanceof CutoverAbortedError) {
      throw new CutoverAbortedError(
        `${err.message}. The cutover was aborted; the writes stay with the ${previousOwner(deps)}`,
      );
    }
    throw err;
  } finally {
    alive.stop();
    await fence.release(hold);
  }
}

function previousOwner(deps: CutoverDeps): WriteOwner {
  return deps.previousFlags.writeOwner;
}

/** Puts the flags back and waits (bounded) for the routers to follow, before the hold is released. */
async function undoSwitch(deps: CutoverDeps, timeoutMs: number): Promise<void> {
  try {
    await deps.setFlags(deps.previousFlags);
    await deps.fence.waitOwner(deps.context, previousOwner(deps), timeoutMs);
  } catch (err) {
    deps.print(
      `WARNING: putting the flags of ${deps.context} back did not complete (${(err as Error).message}); check \`pnpm flags list\` and \`pnpm strangler status ${deps.context}\``,
    );
  }
}
