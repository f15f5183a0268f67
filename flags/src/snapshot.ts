import { CONTEXTS, type ContextName, flagName, KILL_SWITCH } from './definitions.ts';

/** What the flags say for one bounded context, as plain data. */
export interface ContextFlags {
  /** % of the context's reads mirrored to the service and compared; 0 = shadow off. */
  shadowPercent: number;
  /** % of users whose reads the service serves; 0 = all reads to the monolith. */
  readPercent: number;
  /** Which side owns the context's writes. */
  writeOwner: 'monolith' | 'service';
}

/** Everything the router needs from the flags at one moment, with no I/O. */
export interface FlagSnapshot {
  killSwitch: boolean;
  contexts: Readonly<Record<ContextName, ContextFlags>>;
}

const ALL_MONOLITH: ContextFlags = Object.freeze({ shadowPercent: 0, readPercent: 0, writeOwner: 'monolith' });

/** The fail-safe: no flags known, everything goes to the monolith. */
export const MONOLITH_ONLY: FlagSnapshot = Object.freeze({
  killSwitch: false,
  contexts: Object.freeze(
    Object.fromEntries(CONTEXTS.map((c) => [c, ALL_MONOLITH])) as Record<ContextName, ContextFlags>,
  ),
});

/**
 * Who owns a context's writes under `flags`: the service only when its writes
 * flag says so and the kill switch is off. The router (for the routes) and the
 * monolith (for the stock its orders take) decide by this one rule.
 */
export function writeOwnerIn(flags: FlagSnapshot, context: string): 'monolith' | 'service' {
  if (flags.killSwitch) return 'monolith';
  const contextFlags = (flags.contexts as Readonly<Record<string, ContextFlags | undefined>>)[context];
  return contextFlags?.writeOwner ?? 'monolith';
}

/** The parts of an Unleash flag definition (client API) that we read. */
export interface ToggleDefinition {
  name: string;
  enabled: boolean;
  strategies?: ReadonlyArray<{ name: string; parameters?: Readonly<Record<string, unknown>> }>;
}

/**
 * The % a flag is on for: 0 when disabled or missing, 100 for a `default`
 * strategy, else the largest `rollout` of its (flexible|gradual) rollout
 * strategies. Anything unreadable counts as 0: a broken flag means monolith.
 * Constraints and segments on a strategy are not read: our flags have none,
 * and ignoring them can only differ from Unleash for flags edited by hand.
 */
export function rolloutPercent(toggle: ToggleDefinition | undefined): number {
  // `=== true`, not truthiness: the input may come from a backup file or a
  // proxy, and `"false"` or `1` must not turn a flag on.
  if (toggle?.enabled !== true) return 0;
  const strategies: unknown = toggle.strategies;
  if (!Array.isArray(strategies)) return 0;
  let percent = 0;
  for (const strategy of strategies as ReadonlyArray<ToggleStrategy | null | undefined>) {
    if (!strategy || typeof strategy !== 'object') continue;
    if (strategy.name === 'default') return 100;
    if (strategy.name === 'flexibleRollout' || strategy.name === 'gradualRolloutUserId') {
      const parameters = strategy.parameters && typeof strategy.parameters === 'object' ? strategy.parameters : {};
      const raw = parameters.rollout ?? parameters.percentage;
      const value =
        typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
      if (value >= 0 && value <= 100) percent = Math.max(percent, value);
    }
  }
  return percent;
}

type ToggleStrategy = NonNullable<ToggleDefinition['strategies']>[number];

/** Reads the router's view of the flags out of Unleash flag definitions. */
export function snapshotFromToggles(toggles: readonly ToggleDefinition[]): FlagSnapshot {
  const byName = new Map<string, ToggleDefinition>();
  // Entries that are not flag objects (a damaged backup file) are skipped, not fatal.
  for (const toggle of Array.isArray(toggles) ? toggles : []) {
    if (toggle && typeof toggle === 'object' && typeof toggle.name === 'string') byName.set(toggle.name, toggle);
  }
  const contexts = {} as Record<ContextName, ContextFlags>;
  for (const context of CONTEXTS) {
    contexts[context] = Object.freeze({
      shadowPercent: rolloutPercent(byName.get(flagName(context, 'shadow'))),
      readPercent: rolloutPercent(byName.get(flagName(context, 'reads'))),
      // Writes are never split between two owners (invariant 2): only a flag
      // that is fully on hands them to the service.
      writeOwner: rolloutPercent(byName.get(flagName(context, 'writes'))) === 100 ? 'service' : 'monolith',
    });
  }
  return Object.freeze({ killSwitch: rolloutPercent(byName.get(KILL_SWITCH)) > 0, contexts: Object.freeze(contexts) });
}

/** Whether two snapshots say the same thing (snapshots are built in a fixed key order). */
export function sameSnapshot(a: FlagSnapshot, b: FlagSnapshot): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
