import { type ContextName, measuredChannel } from '../../stages/contexts.ts';
import { describeRun, reconcileAndRecord } from '../../stages/effects.ts';
import type { ReconcileReport } from '../../sync/reconcile.ts';
import { type CliIo, RefusedError } from './output.ts';
import type { Session } from './session.ts';

/**
 * `strangler reconcile <context> [--repair] [--json]`: compares the two
 * databases over the channel data flows through in the current stage
 * (forward before `writes`, reverse from then on) and records the result,
 * which the sync → shadow gate reads.
 */

const SHOWN_KEYS = 10;

function drifting(report: ReconcileReport): string[] {
  const lines: string[] = [];
  for (const t of report.tables) {
    for (const [kind, keys] of [
      ['missing', t.missing],
      ['extra', t.extra],
      ['different', t.different],
    ] as const) {
      if (keys.length === 0) continue;
      const shown = keys.slice(0, SHOWN_KEYS).join(', ');
      lines.push(`  ${t.table} ${kind}: ${shown}${keys.length > SHOWN_KEYS ? `, … (${keys.length} in all)` : ''}`);
    }
  }
  return lines;
}

export async function reconcileCommand(
  session: Session,
  args: { context: ContextName; repair: boolean; json: boolean; actor: string },
  io: CliIo,
): Promise<void> {
  const definition = session.contexts[args.context];
  const control = await session.control();
  const record = await control.stages.get(args.context);
  if (record.stage === 'legacy') {
    throw new RefusedError(
      `${args.context} is at legacy: nothing is synced yet (\`pnpm strangler advance ${args.context}\` starts the sync)`,
    );
  }
  const channel = measuredChannel(definition.channels, record.stage);
  const { first, verify } = await reconcileAndRecord(
    { context: args.context, channel, db: session.syncDb(channel), runs: control.runs, actor: args.actor },
    { repair: args.repair },
  );
  if (args.json) {
    return io.out(JSON.stringify({ run: first.run, report: first.report, verify: verify ?? null }, null, 2));
  }
  io.out(describeRun(first.run));
  for (const line of drifting(first.report)) io.out(line);
  if (verify) io.out(`after the repair: ${describeRun(verify.run)}`);
  const left = (verify ?? first).run.drift;
  if (left > 0 && !args.repair) {
    io.out(
      `Rows whose change is still in the outbox are lag, not drift: let the workers catch up and reconcile again, or repair with \`pnpm strangler reconcile ${args.context} --repair\`.`,
    );
  }
}
