import { flagsForStage, nextStage, previousStage, type Stage, type StageFlags } from './stages.ts';

/**
 * What a move does, as data: the steps the CLI carries out before it records
 * the move, in order. Every step is safe to run again (capture installs
 * idempotently, the backfill resumes from its checkpoint, flags are set to a
 * state rather than changed by a delta), so a move that failed midway is
 * finished by running it again. Pure: tested without servers.
 */

export type MoveStep =
  /** Creates the service's database when missing and applies its schema migrations (idempotent). */
  | { kind: 'prepare-target' }
  | { kind: 'install-capture' }
  | { kind: 'backfill' }
  | { kind: 'reconcile' }
  | { kind: 'set-flags'; flags: StageFlags }
  /** The outbox and its rows stay: rolling forward again resumes from them. */
  | { kind: 'remove-capture' }
  /** Hold, drain, switch the write owner (with these flags), release: cutover.ts. */
  | { kind: 'cutover'; newOwner: 'monolith' | 'service'; flags: StageFlags; previousFlags: StageFlags };

export type MovePlan =
  | { ok: true; from: Stage; to: Stage; canaryPercent: number; steps: MoveStep[] }
  | { ok: false; from: Stage; refusal: string };

/** The canary % a context starts its canary at when none was set before. */
export const DEFAULT_CANARY_PERCENT = 10;

export function planAdvance(from: Stage, canaryPercent: number): MovePlan {
  const to = nextStage(from);
  if (to === null) return { ok: false, from, refusal: `${from} is the last stage` };
  const percent = to === 'canary' && canaryPercent === 0 ? DEFAULT_CANARY_PERCENT : canaryPercent;
  let steps: MoveStep[];
  if (from === 'legacy') {
    // Capture first: the backfill copies what exists, capture carries everything written from then on.
    steps = [{ kind: 'prepare-target' }, { kind: 'install-capture' }, { kind: 'backfill' }, { kind: 'reconcile' }];
  } else if (to === 'writes') {
    steps = [
      {
        kind: 'cutover',
        newOwner: 'service',
        flags: flagsForStage('writes', percent),
        previousFlags: flagsForStage(from, percent),
      },
    ];
  } else {
    steps = [{ kind: 'set-flags', flags: flagsForStage(to, percent) }];
  }
  return { ok: true, from, to, canaryPercent: percent, steps };
}

export function planRollback(from: Stage, canaryPercent: number): MovePlan {
  const to = previousStage(from);
  if (to === null) return { ok: false, from, refusal: `${from} is the first stage; there is nothing to roll back` };
  const steps: MoveStep[] =
    from === 'writes'
      ? // The same dance in reverse: the monolith takes the writes back once the service's changes have reached it.
        [
          {
            kind: 'cutover',
            newOwner: 'monolith',
            flags: flagsForStage(to, canaryPercent),
            previousFlags: flagsForStage(from, canaryPercent),
          },
        ]
      : [{ kind: 'set-flags', flags: flagsForStage(to, canaryPercent) }];
  // Routes go back to the monolith before the data stops flowing to the service.
  if (to === 'legacy') steps.push({ kind: 'remove-capture' });
  // Back at legacy the extraction starts over, canary % included; short of it, advancing again restores the %.
  return { ok: true, from, to, canaryPercent: to === 'legacy' ? 0 : canaryPercent, steps };
}

/** The state one Unleash flag must be in. `percent: null` leaves the stored % alone. */
export interface FlagTarget {
  kind: 'shadow' | 'reads' | 'writes';
  enabled: boolean;
  percent: number | null;
}

/**
 * The flags that make the router do what `flags` says. A % flag at 0 is also
 * disabled, so enabling it by hand later moves nobody. The writes flag is
 * all or nothing; before `writes` it is disabled and its % left alone.
 * Order: the writes owner first, then reads, then the shadow mirror, so that
 * on the way back the service loses its riskier traffic first.
 */
export function flagTargets(flags: StageFlags): FlagTarget[] {
  const percentFlag = (kind: 'shadow' | 'reads', percent: number): FlagTarget => ({
    kind,
    enabled: percent > 0,
    percent,
  });
  return [
    flags.writeOwner === 'service'
      ? { kind: 'writes', enabled: true, percent: 100 }
      : { kind: 'writes', enabled: false, percent: null },
    percentFlag('reads', flags.readPercent),
    percentFlag('shadow', flags.shadowPercent),
  ];
}

/** What a flag says now, as far as a plan cares. */
export interface FlagState {
  kind: 'shadow' | 'reads' | 'writes';
  exists: boolean;
  enabled: boolean;
  rolloutPercent: number;
}

export interface FlagChange {
  kind: FlagTarget['kind'];
  /** Set the rollout to this first (when enabling) or after disabling; null: leave it. */
  setPercent: number | null;
  /** null: leave enabled/disabled as it is. */
  setEnabled: boolean | null;
}

/**
 * The changes that bring `current` to `targets`, skipping flags already
 * right, so re-running a move changes nothing and the flags' history in
 * Unleash shows only real changes.
 */
export function flagChanges(targets: readonly FlagTarget[], current: readonly FlagState[]): FlagChange[] {
  const changes: FlagChange[] = [];
  for (const target of targets) {
    const found = current.find((f) => f.kind === target.kind);
    // A flag missing in Unleash is off at 0 % (flags/src/definitions.ts); it is created only to turn it on.
    const now = found?.exists ? found : { enabled: false, rolloutPercent: 0 };
    const percentRight = target.percent === null || now.rolloutPercent === target.percent;
    const enabledRight = now.enabled === target.enabled;
    if (percentRight && enabledRight) continue;
    changes.push({
      kind: target.kind,
      setPercent: percentRight ? null : target.percent,
      setEnabled: enabledRight ? null : target.enabled,
    });
  }
  return changes;
}

/** What the flags say, read back as a stage's shape: `status` compares it with the stage. */
export function flagsFromState(current: readonly FlagState[]): StageFlags {
  const effective = (kind: FlagState['kind']): number => {
    const flag = current.find((f) => f.kind === kind);
    return flag?.exists && flag.enabled ? flag.rolloutPercent : 0;
  };
  return {
    shadowPercent: effective('shadow'),
    readPercent: effective('reads'),
    // All or nothing: anything under 100 % leaves the monolith the owner (flags/src/definitions.ts).
    writeOwner: effective('writes') === 100 ? 'service' : 'monolith',
  };
}

/** Lines naming each way `actual` differs from what `stage` sets; empty when they agree. */
export function flagsMismatch(stage: Stage, canaryPercent: number, actual: StageFlags): string[] {
  const expected = flagsForStage(stage, canaryPercent);
  const out: string[] = [];
  if (actual.shadowPercent !== expected.shadowPercent) {
    out.push(`shadow is ${actual.shadowPercent} %, ${stage} sets ${expected.shadowPercent} %`);
  }
  if (actual.readPercent !== expected.readPercent) {
    out.push(`reads are ${actual.readPercent} %, ${stage} sets ${expected.readPercent} %`);
  }
  if (actual.writeOwner !== expected.writeOwner) {
    out.push(`writes go to the ${actual.writeOwner}, ${stage} gives them to the ${expected.writeOwner}`);
  }
  return out;
}
