import type { ContextName } from '../../stages/contexts.ts';
import { setFlags } from '../../stages/effects.ts';
import { withMoveLock } from '../../stages/move-lock.ts';
import { flagsForStage } from '../../stages/stages.ts';
import { type CliIo, RefusedError } from './output.ts';
import type { Session } from './session.ts';

/**
 * `strangler canary <context> <percent>`: the share of users whose reads the
 * service serves, in the canary stage only. Users are sticky, so raising the
 * % only adds users. Recorded in the history as canary → canary.
 */
export async function canaryCommand(
  session: Session,
  args: { context: ContextName; percent: number; reason: string | null; actor: string },
  io: CliIo,
): Promise<void> {
  const { db, stages } = await session.control();
  // The lock first, then the stage: a guard's setback cannot slip in between.
  const was = await withMoveLock(db, args.context, async () => {
    const record = await stages.get(args.context);
    if (record.stage !== 'canary') {
      throw new RefusedError(
        `${args.context} is at ${record.stage}: the canary % can only be set in the canary stage (\`pnpm strangler advance ${args.context}\` gets there from shadow)`,
      );
    }
    await setFlags(session.unleash(), args.context, flagsForStage('canary', args.percent), io.out);
    await stages.record({
      context: args.context,
      from: 'canary',
      to: 'canary',
      canaryPercent: args.percent,
      actor: args.actor,
      reason: args.reason ?? `canary ${record.canaryPercent} % → ${args.percent} %`,
      forced: false,
      gate: { previousPercent: record.canaryPercent },
    });
    return record.canaryPercent;
  });
  io.out(`${args.context}: the service now serves reads for ${args.percent} % of users (was ${was} %).`);
}
