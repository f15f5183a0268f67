import type { ContextName, FlagDefinition } from './definitions.ts';

/** What the router does because of one flag, in words, e.g. "25 % of users' reads → users service". */
export interface FlagEffectInput {
  kind: FlagDefinition['kind'];
  context: ContextName | null;
  exists: boolean;
  enabled: boolean;
  /** The % the router applies (0 when disabled). */
  effectivePercent: number;
  /** Whether the kill switch is on: it overrides every other flag. */
  killSwitchOn: boolean;
}

export function describeEffect(flag: FlagEffectInput): string {
  const effect = baseEffect(flag);
  if (!flag.exists) return `missing, counts as off: ${effect} (run \`pnpm flags init\`)`;
  if (flag.kind !== 'killswitch' && flag.killSwitchOn && flag.effectivePercent > 0) {
    return `${effect}, but the kill switch overrides it: all → monolith`;
  }
  return effect;
}

function baseEffect({ kind, context, effectivePercent: percent }: FlagEffectInput): string {
  const ctx = context ?? 'all';
  switch (kind) {
    case 'killswitch':
      return percent > 0 ? 'ON: every route → monolith' : 'off: routes follow the other flags';
    case 'shadow':
      return percent > 0
        ? `${percent} % of ${ctx} reads mirrored to the ${ctx} service and compared`
        : `no ${ctx} reads mirrored`;
    case 'reads':
      if (percent >= 100) return `all ${ctx} reads → ${ctx} service`;
      // "users' users reads" reads badly; the sticky unit is always the user.
      return percent > 0
        ? `${percent} % of users' ${ctx === 'users' ? '' : `${ctx} `}reads → ${ctx} service`
        : `all ${ctx} reads → monolith`;
    case 'writes':
      return percent === 100 ? `${ctx} writes → ${ctx} service` : `${ctx} writes → monolith`;
  }
}
