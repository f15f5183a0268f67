/**
 * The flags, as code. Every bounded context has three Unleash flags, all in
 * the `default` project and named `strangler.<context>.<kind>`:
 *
 * | flag                        | meaning when enabled                                                     |
 * |-----------------------------|--------------------------------------------------------------------------|
 * | `strangler.<ctx>.shadow`    | mirror this % of the context's reads to the service and diff the answers |
 * | `strangler.<ctx>.reads`     | the service serves reads for this % of users (sticky by user)           |
 * | `strangler.<ctx>.writes`    | the service owns the context's writes (all or nothing: 100 % only)       |
 * | `strangler.killswitch`      | every route goes to the monolith, whatever the other flags say          |
 *
 * The % is the `rollout` parameter of the flag's `flexibleRollout` strategy
 * (stickiness `userId`, groupId = the flag name), so Unleash's own UI shows and
 * edits it. A flag that is missing, disabled or unreadable means "monolith".
 */

export const CONTEXTS = ['users', 'products'] as const;
export type ContextName = (typeof CONTEXTS)[number];

export const FLAG_KINDS = ['shadow', 'reads', 'writes'] as const;
export type FlagKind = (typeof FLAG_KINDS)[number];

export const KILL_SWITCH = 'strangler.killswitch';
export const FLAG_PREFIX = 'strangler.';

export function flagName(context: ContextName, kind: FlagKind): string {
  return `${FLAG_PREFIX}${context}.${kind}`;
}

export interface FlagDefinition {
  name: string;
  context: ContextName | null;
  kind: FlagKind | 'killswitch';
  description: string;
}

const DESCRIPTIONS: Record<FlagKind, (context: ContextName) => string> = {
  shadow: (c) =>
    `Mirror this % of ${c} reads to the ${c} service and compare the answers (the client always gets the monolith's).`,
  reads: (c) => `The ${c} service serves reads for this % of users, sticky by user id.`,
  writes: (c) =>
    `The ${c} service owns ${c} writes. All or nothing: only 100 % counts; anything less means the monolith.`,
};

/** Every flag the router and the stage machine use, in a stable order. */
export const FLAG_DEFINITIONS: readonly FlagDefinition[] = [
  {
    name: KILL_SWITCH,
    context: null,
    kind: 'killswitch',
    description: 'Every route goes to the monolith, whatever the other flags say.',
  },
  ...CONTEXTS.flatMap((context) =>
    FLAG_KINDS.map((kind) => ({
      name: flagName(context, kind),
      context,
      kind,
      description: DESCRIPTIONS[kind](context),
    })),
  ),
];

export function findFlag(name: string): FlagDefinition | undefined {
  return FLAG_DEFINITIONS.find((f) => f.name === name);
}

/** The name without the `strangler.` prefix, as the CLI prints it: `users.reads`, `killswitch`. */
export function shortFlagName(name: string): string {
  return name.startsWith(FLAG_PREFIX) ? name.slice(FLAG_PREFIX.length) : name;
}

/**
 * The flag a person meant: its full name (`strangler.users.reads`) or its
 * short one (`users.reads`), any case. Undefined when it is none of ours.
 */
export function resolveFlagName(input: string): FlagDefinition | undefined {
  const name = input.trim().toLowerCase();
  return findFlag(name) ?? findFlag(`${FLAG_PREFIX}${name}`);
}
