import { HoldConflictError } from '@strangler/foundation';
import type { ContextDefinition, ContextName } from '../../stages/contexts.ts';
import { CutoverAbortedError } from '../../stages/cutover.ts';
import { type EffectDeps, MoveInterruptedError, runSteps } from '../../stages/effects.ts';
import { evaluateGate, type GateEvaluation } from '../../stages/gate-inputs.ts';
import { withMoveLock } from '../../stages/move-lock.ts';
import { flagsFromState, type MovePlan, planAdvance, planRollback } from '../../stages/plan.ts';
import { measureFlags } from '../../stages/probes.ts';
import { flagsForStage } from '../../stages/stages.ts';
import { gatePolicyOf } from './config.ts';
import { measureContext } from './measure-context.ts';
import { type CliIo, RefusedError } from './output.ts';
import { progressDisplay } from './progress.ts';
import type { Control, Session } from './session.ts';

/**
 * `strangler advance <context>` and `strangler rollback <context>`: one stage
 * at a time. Advance checks the gate first and refuses with every unmet
 * condition and its numbers (`--force` overrides it, loudly, and the
 * override is recorded); then the move's steps run; then the move is
 * recorded. A step that fails leaves the stage where it was, and running the
 * command again finishes the move.
 */

export interface MoveArgs {
  context: ContextName;
  force: boolean;
  reason: string | null;
  actor: string;
}

/**
 * A flags-only move from a stage whose write owner the flags contradict would
 * hand the writes over without a hold: a cutover stopped between its switch
 * and the record leaves exactly that. Refused, saying how to finish it.
 */
async function refuseOwnerMismatch(session: Session, context: ContextName, plan: Extract<MovePlan, { ok: true }>) {
  if (!plan.steps.some((s) => s.kind === 'set-flags')) return;
  const actual = flagsFromState((await measureFlags(session.unleash(), context)).states).writeOwner;
  const expected = flagsForStage(plan.from, plan.canaryPercent).writeOwner;
  if (actual === expected) return;
  throw new RefusedError(
    `${context} stays at ${plan.from}: its flags give the writes to the ${actual}, but ${plan.from} gives them to the ${expected}. A write cutover did not finish: \`pnpm strangler ${expected === 'monolith' ? 'advance' : 'rollback'} ${context}\` finishes it with writes held (or set the writes flag back with \`pnpm flags\`)`,
  );
}

async function carryOut(
  session: Session,
  control: Control,
  definition: ContextDefinition,
  plan: Extract<MovePlan, { ok: true }>,
  args: MoveArgs,
  io: CliIo,
  gate: { forced: boolean; record: unknown },
): Promise<void> {
  await refuseOwnerMismatch(session, definition.name, plan);
  const backfills = plan.steps.some((s) => s.kind === 'backfill');
  const display = progressDisplay(io.progress, io.out);
  const abort = new AbortController();
  // Ctrl-C during the backfill stops it between batches; the checkpoint keeps what was copied.
  const onSigint = () => {
    display.stop();
    io.err('stopping the backfill after the current batch (Ctrl-C again quits at once)');
    abort.abort();
    process.once('SIGINT', () => process.exit(130));
  };
  if (backfills) process.once('SIGINT', onSigint);
  const deps: EffectDeps = {
    context: definition.name,
    channels: definition.channels,
    serviceSchema: definition.serviceSchema,
    forwardDb: session.syncDb(definition.channels.forward),
    reverseDb: session.syncDb(definition.channels.reverse),
    fence: () => session.fence(),
    cutoverBounds: {
      holdMs: session.config.CUTOVER_HOLD_MS,
      drainMs: Math.min(session.config.CUTOVER_DRAIN_MS, session.config.CUTOVER_HOLD_MS),
      maxLagSecondsToStart: session.config.CUTOVER_MAX_LAG_SECONDS,
    },
    unleash: () => session.unleash(),
    runs: control.runs,
    actor: args.actor,
    print: (line) => {
      display.stop();
      io.out(line);
    },
    onBackfillProgress: (p) => display.onProgress(p),
    signal: abort.signal,
    force: args.force,
  };
  try {
    await runSteps(plan.steps, deps);
  } catch (err) {
    if (err instanceof MoveInterruptedError) throw new RefusedError(err.message);
    if (err instanceof CutoverAbortedError || err instanceof HoldConflictError)
      throw new RefusedError(`${definition.name} stays at ${plan.from}: ${err.message}`);
    throw err;
  } finally {
    display.stop();
    process.off('SIGINT', onSigint);
  }
  await control.stages.record({
    context: definition.name,
    from: plan.from,
    to: plan.to,
    canaryPercent: plan.canaryPercent,
    actor: args.actor,
    reason: args.reason ?? '(no reason given)',
    forced: gate.forced,
    gate: gate.record,
  });
}

function gateRecord(gate: GateEvaluation, forceRequested: boolean): unknown {
  return { ok: gate.ok, reasons: gate.reasons, inputs: gate.inputs, forceRequested };
}

/**
 * One mover at a time per context (stages/move-lock.ts): the lock is taken
 * before the stage is read, so a move plans from the stage as it is, and the
 * guard or another operator cannot move the context under it.
 */
export async function advanceCommand(session: Session, args: MoveArgs, io: CliIo): Promise<void> {
  const control = await session.control();
  await withMoveLock(control.db, args.context, () => advanceLocked(session, control, args, io));
}

async function advanceLocked(session: Session, control: Control, args: MoveArgs, io: CliIo): Promise<void> {
  const definition = session.contexts[args.context];
  const record = await control.stages.get(args.context);
  const plan = planAdvance(record.stage, record.canaryPercent);
  if (!plan.ok) throw new RefusedError(`${args.context} stays at ${record.stage}: ${plan.refusal}`);
  const m = await measureContext(session, definition, plan.from, control);
  const gate = evaluateGate(plan.from, m, gatePolicyOf(session.config));
  if (!gate.ok && !args.force) {
    throw new RefusedError(`${args.context} stays at ${plan.from}: the gate to ${plan.to} is not met`, [
      ...gate.reasons.map((r) => `- ${r}`),
      `(--force --reason "..." overrides the gate; the override is recorded)`,
    ]);
  }
  if (!gate.ok) {
    io.err(`WARNING: forcing ${args.context} ${plan.from} → ${plan.to} past an unmet gate:`);
    for (const reason of gate.reasons) io.err(`  - ${reason}`);
    io.err(`WARNING: this override is recorded in the history, by ${args.actor}: ${args.reason ?? ''}`);
  }
  io.out(`${args.context}: ${plan.from} → ${plan.to}${gate.ok ? ' (gate met)' : ' (FORCED)'}`);
  await carryOut(session, control, definition, plan, args, io, {
    forced: !gate.ok,
    record: gateRecord(gate, args.force),
  });
  io.out(
    `${args.context} is now at ${plan.to}${plan.to === 'canary' ? ` with ${plan.canaryPercent} % of users` : ''}.`,
  );
  if (plan.from === 'legacy') {
    io.out(
      `Captured changes reach the ${args.context} service only while a relay and apply workers run: \`pnpm sync:worker ${args.context}\`.`,
    );
  }
}

export async function rollbackCommand(session: Session, args: MoveArgs, io: CliIo): Promise<void> {
  const control = await session.control();
  await withMoveLock(control.db, args.context, () => rollbackLocked(session, control, args, io));
}

async function rollbackLocked(session: Session, control: Control, args: MoveArgs, io: CliIo): Promise<void> {
  const definition = session.contexts[args.context];
  const record = await control.stages.get(args.context);
  const plan = planRollback(record.stage, record.canaryPercent);
  if (!plan.ok) throw new RefusedError(`${args.context} stays at ${record.stage}: ${plan.refusal}`);
  io.out(`${args.context}: ${plan.from} → ${plan.to} (rollback)`);
  await carryOut(session, control, definition, plan, args, io, { forced: false, record: { rollback: true } });
  io.out(`${args.context} is now at ${plan.to}.`);
  if (plan.to === 'legacy') {
    io.out(
      `The ${definition.channels.forward.name} workers (\`pnpm sync:worker ${args.context}\`) have nothing left to do and can be stopped.`,
    );
  }
}
