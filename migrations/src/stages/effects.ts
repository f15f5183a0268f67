import { flagName, type UnleashAdminApi } from '@strangler/flags';
import type { FenceCoordinator } from '@strangler/foundation';
import { type DatabaseKind, migrateLatest } from '../migrator.ts';
import { type BackfillProgress, type BackfillResult, runBackfill } from '../sync/backfill.ts';
import { installCapture, removeCapture } from '../sync/capture.ts';
import type { SyncChannel } from '../sync/channel.ts';
import type { SyncDatabases } from '../sync/databases.ts';
import { type ReconcileReport, reconcile } from '../sync/reconcile.ts';
import type { ContextChannels, ContextName } from './contexts.ts';
import { type CutoverBounds, cutover, DEFAULT_CUTOVER_BOUNDS } from './cutover.ts';
import { type FlagChange, type FlagTarget, flagChanges, flagTargets, type MoveStep } from './plan.ts';
import { measureFlags } from './probes.ts';
import type { ReconcileRun, ReconcileRunStore } from './reconcile-runs.ts';
import type { StageFlags } from './stages.ts';

/**
 * Carries out a move's steps (plan.ts) against the real servers. Each step is
 * idempotent, so a move that failed midway is finished by running it again;
 * the move is recorded only after every step succeeded.
 */

export interface EffectDeps {
  context: ContextName;
  channels: ContextChannels;
  serviceSchema: DatabaseKind;
  /** The forward channel's databases: monolith (source) and service (target). */
  forwardDb: SyncDatabases;
  /** The reverse channel's databases: service (source) and monolith (target). */
  reverseDb: SyncDatabases;
  /** The routers' write fence (Redis), for the write cutover. */
  fence: () => FenceCoordinator;
  cutoverBounds?: CutoverBounds;
  /** --force: a cutover goes ahead although no router reports to the fence. */
  force?: boolean;
  unleash: () => UnleashAdminApi;
  runs: ReconcileRunStore;
  actor: string;
  print: (line: string) => void;
  onBackfillProgress?: (p: BackfillProgress) => void;
  /** Aborting stops the backfill between batches; the move is then not recorded. */
  signal?: AbortSignal;
}

/** A step stopped on purpose (Ctrl-C during the backfill): nothing is recorded, running it again resumes. */
export class MoveInterruptedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MoveInterruptedError';
  }
}

export async function runSteps(steps: readonly MoveStep[], deps: EffectDeps): Promise<void> {
  for (const step of steps) {
    switch (step.kind) {
      case 'prepare-target': {
        const { created, applied } = await migrateLatest(deps.serviceSchema, deps.channels.forward.targetUrl);
        if (created) deps.print(`created the ${deps.context} service's database`);
        if (applied.length > 0) deps.print(`applied to the ${deps.context} service's database: ${applied.join(', ')}`);
        break;
      }
      case 'install-capture':
        await installCapture(deps.forwardDb.source, deps.channels.forward);
        deps.print(`capture installed: changes to ${deps.context} in the monolith now go to the outbox`);
        break;
      case 'backfill':
        reportBackfill(await backfill(deps), deps);
        break;
      case 'reconcile': {
        const { first } = await reconcileAndRecord(
          { ...deps, channel: deps.channels.forward, db: deps.forwardDb },
          { repair: false },
        );
        deps.print(describeRun(first.run));
        if (first.run.drift > 0) {
          deps.print(
            `drift is not 0: changes still in the outbox arrive once \`pnpm sync:worker ${deps.context}\` runs; rows changed while capture was off need \`pnpm strangler reconcile ${deps.context} --repair\``,
          );
        }
        break;
      }
      case 'set-flags':
        await setFlags(deps.unleash(), deps.context, step.flags, deps.print);
        break;
      case 'cutover': {
        const forward = { channel: deps.channels.forward, db: deps.forwardDb };
        const reverse = { channel: deps.channels.reverse, db: deps.reverseDb };
        const toService = step.newOwner === 'service';
        const report = await cutover({
          context: deps.context,
          draining: toService ? forward : reverse,
          starting: toService ? reverse : forward,
          newOwner: step.newOwner,
          flags: step.flags,
          previousFlags: step.previousFlags,
          fence: deps.fence(),
          setFlags: (flags) => setFlags(deps.unleash(), deps.context, flags, deps.print),
          actor: deps.actor,
          bounds: deps.cutoverBounds ?? DEFAULT_CUTOVER_BOUNDS,
          allowNoRouters: deps.force === true,
          print: deps.print,
        });
        deps.print(
          `writes of ${deps.context} now go to the ${step.newOwner}; they were held ${report.heldMs} ms (${report.drainedRows} changes drained in ${report.drainMs} ms)`,
        );
        break;
      }
      case 'remove-capture':
        await removeCapture(deps.forwardDb.source, deps.channels.forward);
        deps.print(
          `capture removed: changes to ${deps.context} are no longer recorded (the outbox and its rows are kept)`,
        );
        break;
    }
  }
}

async function backfill(deps: EffectDeps): Promise<BackfillResult> {
  return runBackfill(deps.channels.forward, {
    db: deps.forwardDb,
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(deps.onBackfillProgress ? { onProgress: deps.onBackfillProgress } : {}),
  });
}

const n = (x: number): string => x.toLocaleString('en-US');

function reportBackfill(result: BackfillResult, deps: EffectDeps): void {
  for (const t of result.tables) {
    deps.print(
      t.skipped
        ? `backfill of ${t.table}: already finished (${n(t.totalRows)} rows)`
        : `backfill of ${t.table}: ${n(t.rows)} rows read, ${n(t.inserted)} inserted${t.poison ? `, ${n(t.poison)} dead-lettered` : ''}${t.finished ? '' : ' (stopped)'}`,
    );
  }
  if (result.aborted) {
    throw new MoveInterruptedError('the backfill was stopped; nothing was recorded. Run the same command to resume it');
  }
}

export interface ReconcileTarget {
  context: ContextName;
  channel: SyncChannel;
  db: SyncDatabases;
  runs: ReconcileRunStore;
  actor: string;
}

export interface RecordedReconcile {
  report: ReconcileReport;
  run: ReconcileRun;
}

/**
 * Reconciles the channel and records the run. With `repair`, a second,
 * read-only run follows any repair and is recorded too: the gate reads what
 * is left after the repair, measured rather than assumed.
 */
export async function reconcileAndRecord(
  target: ReconcileTarget,
  opts: { repair: boolean },
): Promise<{ first: RecordedReconcile; verify: RecordedReconcile | null }> {
  const { channel, db, runs, context, actor } = target;
  const report = await reconcile(channel, { repair: opts.repair, db });
  const first = { report, run: await runs.record(context, report, actor) };
  if (!opts.repair || report.repaired === 0) return { first, verify: null };
  const again = await reconcile(channel, { db });
  return { first, verify: { report: again, run: await runs.record(context, again, actor) } };
}

export function describeRun(run: ReconcileRun): string {
  let text = `reconcile of ${run.channel}: drift ${run.drift}`;
  if (run.drift > 0) text += ` (${run.missing} missing, ${run.extra} extra, ${run.different} different)`;
  if (run.unmapped > 0) text += `, ${run.unmapped} rows the mapping rejects`;
  if (run.repaired > 0) text += `, ${run.repaired} repaired`;
  if (run.repairFailed > 0) text += `, ${run.repairFailed} could not be repaired`;
  return `${text}; ${run.rowsCompared} rows compared in ${run.ms} ms`;
}

function describeChange(context: ContextName, change: FlagChange): string {
  const what: string[] = [];
  if (change.setPercent !== null) what.push(`rollout ${change.setPercent} %`);
  if (change.setEnabled !== null) what.push(change.setEnabled ? 'enabled' : 'disabled');
  return `flag ${flagName(context, change.kind)}: ${what.join(', ')}`;
}

/** Brings the context's flags to `flags`, changing only what differs. */
export async function setFlags(
  api: UnleashAdminApi,
  context: ContextName,
  flags: StageFlags,
  print: (line: string) => void,
  /** Only these flags; default all three. The guard never touches the writes flag: only a cutover does. */
  only: ReadonlyArray<FlagTarget['kind']> = ['writes', 'reads', 'shadow'],
): Promise<void> {
  const { states } = await measureFlags(api, context);
  const targets = flagTargets(flags).filter((t) => only.includes(t.kind));
  const changes = flagChanges(targets, states);
  for (const change of changes) {
    const name = flagName(context, change.kind);
    if (change.setEnabled === false) await api.disable(name);
    // The % before enabling, so enabling never applies a stale one for a moment.
    if (change.setPercent !== null) await api.setRollout(name, change.setPercent);
    if (change.setEnabled === true) await api.enable(name);
    print(describeChange(context, change));
  }
  if (changes.length === 0) print(`flags of ${context}: already as the stage needs`);
}
