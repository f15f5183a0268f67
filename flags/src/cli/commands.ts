import { type FlagStatus, isAllOrNothing, type UnleashAdminApi } from '../admin-api.ts';
import { KILL_SWITCH, resolveFlagName } from '../definitions.ts';
import { describeEffect } from '../effect.ts';
import { UnknownFlagError } from '../errors.ts';
import { formatTable } from './table.ts';

/** What a command writes to; stdout only: failures are thrown and printed by the runner. */
export type Print = (line: string) => void;

export interface CommandContext {
  api: UnleashAdminApi;
  print: Print;
  json: boolean;
}

function effectOf(flag: FlagStatus, killSwitchOn: boolean): string {
  return describeEffect({ ...flag, killSwitchOn });
}

function killSwitchOn(flags: readonly FlagStatus[]): boolean {
  return flags.some((f) => f.name === KILL_SWITCH && f.effectivePercent > 0);
}

function enabledText(flag: FlagStatus): string {
  if (!flag.exists) return 'missing';
  return flag.enabled ? 'yes' : 'no';
}

/**
 * After a change: who Unleash recorded it as, so a person sees at once
 * whether the log names them or only the shared admin token.
 */
function recordedAs(flag: FlagStatus): string {
  const by = flag.lastChange?.by ?? 'unknown';
  return `Recorded in Unleash's event log as ${by} (\`pnpm flags history ${flag.shortName}\`).`;
}

/** "2026-11-25 00:24Z": short enough for a table column. */
function shortTime(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')}Z`;
}

export async function listCommand({ api, print, json }: CommandContext): Promise<void> {
  const flags = await api.listFlags();
  if (json) return print(JSON.stringify(flags, null, 2));
  const killed = killSwitchOn(flags);
  print(`Unleash ${api.url} · project default · environment development`);
  if (killed) print('KILL SWITCH ON: every route goes to the monolith (`pnpm flags unkill` restores the flags below)');
  print('');
  const rows = flags.map((f) => [
    f.name,
    enabledText(f),
    f.exists ? `${f.rolloutPercent} %` : '-',
    effectOf(f, killed),
    f.lastChange ? shortTime(f.lastChange.at) : '-',
  ]);
  for (const line of formatTable(['FLAG', 'ENABLED', 'ROLLOUT', 'EFFECT', 'LAST CHANGED'], rows)) print(line);
  const warnings = flags.flatMap((f) => f.warnings.map((w) => `  ! ${f.shortName}: ${w}`));
  if (warnings.length > 0) {
    print('');
    for (const line of warnings) print(line);
  }
  if (flags.some((f) => !f.exists)) {
    print('');
    print('Some flags are missing in Unleash and count as off: `pnpm flags init` creates them.');
  }
}

export async function showCommand({ api, print, json }: CommandContext, name: string): Promise<void> {
  const [flag, killSwitch] = await Promise.all([api.getFlag(name), api.getFlag(KILL_SWITCH)]);
  if (json) return print(JSON.stringify(flag, null, 2));
  const rows: Array<[string, string]> = [
    ['description', flag.description],
    ['enabled', enabledText(flag)],
    [
      'rollout',
      flag.exists ? `${flag.rolloutPercent} %${isAllOrNothing(flag) ? ' (all or nothing: 0 or 100)' : ''}` : '-',
    ],
    ['effect', effectOf(flag, killSwitchOn([killSwitch]))],
    [
      'last change',
      flag.lastChange ? `${flag.lastChange.at} by ${flag.lastChange.by} (${flag.lastChange.event})` : 'never',
    ],
    ['in the UI', flag.uiUrl],
    ...flag.warnings.map((w): [string, string] => ['warning', w]),
  ];
  print(flag.name);
  for (const [key, value] of rows) print(`  ${key.padEnd(12)}  ${value}`);
}

export async function setCommand({ api, print }: CommandContext, name: string, percent: number): Promise<void> {
  const { flag, previousPercent } = await api.setRollout(name, percent);
  const killSwitch = flag.name === KILL_SWITCH ? flag : await api.getFlag(KILL_SWITCH);
  print(
    `${flag.name}: rollout ${previousPercent} % → ${flag.rolloutPercent} %. Now: ${effectOf(flag, killSwitchOn([killSwitch]))}.`,
  );
  if (!flag.enabled && flag.rolloutPercent > 0) {
    print(`Note: the flag is disabled, so this % applies once you run \`pnpm flags enable ${flag.shortName}\`.`);
  }
  print(recordedAs(flag));
}

export async function enableCommand({ api, print }: CommandContext, name: string, on: boolean): Promise<void> {
  const flag = on ? await api.enable(name) : await api.disable(name);
  const killSwitch = flag.name === KILL_SWITCH ? flag : await api.getFlag(KILL_SWITCH);
  print(`${flag.name} ${on ? 'enabled' : 'disabled'}. Now: ${effectOf(flag, killSwitchOn([killSwitch]))}.`);
  if (on && flag.rolloutPercent === 0) {
    print(`Note: its rollout is 0 %, so nothing moves yet: \`pnpm flags set ${flag.shortName} <percent>\`.`);
  }
  print(recordedAs(flag));
}

export async function killCommand({ api, print }: CommandContext, on: boolean): Promise<void> {
  const flag = await api.killSwitch(on);
  print(
    on
      ? 'Kill switch ON: every route goes to the monolith. The other flags keep their values; `pnpm flags unkill` restores them.'
      : 'Kill switch off: routes follow the other flags again (`pnpm flags list` shows them).',
  );
  print(recordedAs(flag));
}

export async function historyCommand(
  { api, print, json }: CommandContext,
  name: string | undefined,
  limit: number,
): Promise<void> {
  const events = await api.history({ ...(name === undefined ? {} : { flag: name }), limit });
  if (json) return print(JSON.stringify(events, null, 2));
  if (events.length === 0) {
    print(name === undefined ? 'No flag has changed yet.' : `${name} has not changed yet.`);
    return;
  }
  const rows = events.map((e) => [
    shortTime(e.at),
    e.by,
    e.flag,
    e.environment && e.environment !== 'development' ? `${e.change} (in ${e.environment})` : e.change,
  ]);
  for (const line of formatTable(['WHEN', 'WHO', 'FLAG', 'CHANGE'], rows)) print(line);
  print('');
  print(
    `Newest first, from Unleash's event log at ${api.url}. A move by \`pnpm strangler\` also says who asked and why: \`pnpm strangler history <context>\`.`,
  );
}

export async function initCommand({ api, print }: CommandContext): Promise<void> {
  const results = await api.ensureFlags();
  const changed = results.filter((r) => r.action !== 'present');
  for (const { name, action } of changed) {
    print(action === 'created' ? `created ${name} (disabled)` : `added the rollout strategy to ${name}`);
  }
  print(
    changed.length === 0
      ? `All ${results.length} flags are in Unleash at ${api.url}; nothing to do.`
      : `Done: ${results.length} flags in Unleash at ${api.url}. \`pnpm flags list\` shows them.`,
  );
}

/** Checks a flag name before any request, so a typo fails fast and the same way offline. */
export function checkFlagName(name: string): void {
  if (!resolveFlagName(name)) throw new UnknownFlagError(name);
}
