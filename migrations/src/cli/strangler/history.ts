import type { ContextName } from '../../stages/contexts.ts';
import type { HistoryEntry } from '../../stages/store.ts';
import { formatTable, timestamp } from './format.ts';
import type { Print } from './output.ts';
import type { Session } from './session.ts';

/** `strangler history <context> [--limit n] [--json]`: the recorded moves, newest first. */

function move(h: HistoryEntry): string {
  if (h.fromStage === h.toStage) return `${h.toStage} at ${h.canaryPercent ?? 0} %`;
  return `${h.fromStage} → ${h.toStage}${h.toStage === 'canary' ? ` (${h.canaryPercent ?? 0} %)` : ''}`;
}

/** One line for `status`: when, what, who, why. */
export function describeHistoryEntry(h: HistoryEntry): string {
  return `${timestamp(h.at)}  ${move(h)}  by ${h.actor}${h.forced ? '  FORCED' : ''}: ${h.reason}`;
}

export async function historyCommand(
  session: Session,
  args: { context: ContextName; limit: number; json: boolean },
  print: Print,
): Promise<void> {
  const { stages } = await session.control();
  const entries = await stages.history(args.context, args.limit);
  if (args.json) return print(JSON.stringify(entries, null, 2));
  if (entries.length === 0) return print(`${args.context}: no moves recorded yet (it is at legacy)`);
  const rows = entries.map((h) => [timestamp(h.at), move(h), h.actor, h.forced ? 'yes' : '', h.reason]);
  for (const line of formatTable(['AT', 'MOVE', 'ACTOR', 'FORCED', 'REASON'], rows)) print(line);
}
