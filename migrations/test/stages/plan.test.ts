import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CANARY_PERCENT,
  type FlagState,
  flagChanges,
  flagsFromState,
  flagsMismatch,
  flagTargets,
  planAdvance,
  planRollback,
} from '../../src/stages/plan.ts';
import { flagsForStage, STAGES } from '../../src/stages/stages.ts';

const off: FlagState[] = [
  { kind: 'shadow', exists: true, enabled: false, rolloutPercent: 0 },
  { kind: 'reads', exists: true, enabled: false, rolloutPercent: 0 },
  { kind: 'writes', exists: true, enabled: false, rolloutPercent: 100 },
];

/** Applies changes to states the way setFlags does, for round-trip checks. */
function apply(states: FlagState[], changes: ReturnType<typeof flagChanges>): FlagState[] {
  return states.map((s) => {
    const c = changes.find((x) => x.kind === s.kind);
    if (!c) return s;
    return {
      ...s,
      exists: true,
      rolloutPercent: c.setPercent ?? s.rolloutPercent,
      enabled: c.setEnabled ?? s.enabled,
    };
  });
}

describe('planAdvance', () => {
  it('starts the sync at legacy: service schema, capture before backfill, then one reconcile', () => {
    const plan = planAdvance('legacy', 0);
    expect(plan).toEqual({
      ok: true,
      from: 'legacy',
      to: 'sync',
      canaryPercent: 0,
      steps: [{ kind: 'prepare-target' }, { kind: 'install-capture' }, { kind: 'backfill' }, { kind: 'reconcile' }],
    });
  });

  it('moves sync → shadow → canary → reads by flags only, with the stage table’s flags', () => {
    expect(planAdvance('sync', 0)).toMatchObject({
      to: 'shadow',
      steps: [{ kind: 'set-flags', flags: { shadowPercent: 100, readPercent: 0, writeOwner: 'monolith' } }],
    });
    expect(planAdvance('canary', 30)).toMatchObject({
      to: 'reads',
      steps: [{ kind: 'set-flags', flags: { shadowPercent: 0, readPercent: 100, writeOwner: 'monolith' } }],
    });
  });

  it(`starts the canary at ${DEFAULT_CANARY_PERCENT} % when no % was set, else at the one set`, () => {
    expect(planAdvance('shadow', 0)).toMatchObject({
      to: 'canary',
      canaryPercent: DEFAULT_CANARY_PERCENT,
      steps: [{ kind: 'set-flags', flags: { readPercent: DEFAULT_CANARY_PERCENT, writeOwner: 'monolith' } }],
    });
    expect(planAdvance('shadow', 25)).toMatchObject({ canaryPercent: 25 });
  });

  it('moves the writes only through the cutover, and refuses past the end', () => {
    expect(planAdvance('reads', 100)).toEqual({
      ok: true,
      from: 'reads',
      to: 'writes',
      canaryPercent: 100,
      steps: [
        {
          kind: 'cutover',
          newOwner: 'service',
          flags: flagsForStage('writes', 100),
          previousFlags: flagsForStage('reads', 100),
        },
      ],
    });
    expect(planAdvance('writes', 100)).toMatchObject({
      to: 'complete',
      steps: [{ kind: 'set-flags', flags: { writeOwner: 'service' } }],
    });
    const end = planAdvance('complete', 100);
    expect(end.ok ? '' : end.refusal).toBe('complete is the last stage');
  });

  it('never gives the writes to the service before writes', () => {
    for (const stage of STAGES) {
      const plan = planAdvance(stage, 50);
      if (!plan.ok) continue;
      for (const step of plan.steps) {
        // Before writes the owner is the monolith; the one step that changes it is the cutover into writes.
        if (step.kind === 'set-flags')
          expect(step.flags.writeOwner).toBe(plan.to === 'complete' ? 'service' : 'monolith');
        if (step.kind === 'cutover')
          expect([plan.from, plan.to, step.newOwner]).toEqual(['reads', 'writes', 'service']);
      }
    }
  });
});

describe('planRollback', () => {
  it('sets the previous stage’s flags, and at legacy removes capture after the flags', () => {
    expect(planRollback('canary', 25)).toMatchObject({
      to: 'shadow',
      canaryPercent: 25,
      steps: [{ kind: 'set-flags', flags: flagsForStage('shadow', 25) }],
    });
    expect(planRollback('reads', 25)).toMatchObject({
      to: 'canary',
      steps: [{ kind: 'set-flags', flags: { readPercent: 25 } }],
    });
    expect(planRollback('sync', 25)).toEqual({
      ok: true,
      from: 'sync',
      to: 'legacy',
      canaryPercent: 0,
      steps: [{ kind: 'set-flags', flags: flagsForStage('legacy', 0) }, { kind: 'remove-capture' }],
    });
  });

  it('refuses at legacy, and takes the writes back from the service only through the reverse cutover', () => {
    expect(planRollback('legacy', 0).ok).toBe(false);
    expect(planRollback('writes', 30)).toEqual({
      ok: true,
      from: 'writes',
      to: 'reads',
      canaryPercent: 30,
      steps: [
        {
          kind: 'cutover',
          newOwner: 'monolith',
          flags: flagsForStage('reads', 30),
          previousFlags: flagsForStage('writes', 30),
        },
      ],
    });
    expect(planRollback('complete', 30)).toMatchObject({
      to: 'writes',
      steps: [{ kind: 'set-flags', flags: { writeOwner: 'service' } }],
    });
  });
});

describe('flag targets and changes', () => {
  it('disables a % flag at 0 and leaves the writes flag disabled, its % alone, before writes', () => {
    expect(flagTargets(flagsForStage('shadow', 0))).toEqual([
      { kind: 'writes', enabled: false, percent: null },
      { kind: 'reads', enabled: false, percent: 0 },
      { kind: 'shadow', enabled: true, percent: 100 },
    ]);
    expect(flagTargets(flagsForStage('writes', 0))[0]).toEqual({ kind: 'writes', enabled: true, percent: 100 });
  });

  it('changes only what differs, so running a move again changes nothing', () => {
    const targets = flagTargets(flagsForStage('canary', 10));
    const changes = flagChanges(targets, off);
    expect(changes).toEqual([
      { kind: 'reads', setPercent: 10, setEnabled: true },
      { kind: 'shadow', setPercent: 100, setEnabled: true },
    ]);
    const after = apply(off, changes);
    expect(flagChanges(targets, after)).toEqual([]);
    expect(flagsFromState(after)).toEqual(flagsForStage('canary', 10));
  });

  it('treats a missing flag as off, and creates it only to turn it on', () => {
    const missing: FlagState[] = off.map((f) => ({ ...f, exists: false, rolloutPercent: 0 }));
    expect(flagChanges(flagTargets(flagsForStage('legacy', 0)), missing)).toEqual([]);
    expect(flagChanges(flagTargets(flagsForStage('shadow', 0)), missing)).toEqual([
      { kind: 'shadow', setPercent: 100, setEnabled: true },
    ]);
    expect(flagsFromState(missing)).toEqual({ shadowPercent: 0, readPercent: 0, writeOwner: 'monolith' });
  });

  it('reads a writes flag under 100 % as the monolith owning the writes', () => {
    const half = off.map((f) => (f.kind === 'writes' ? { ...f, enabled: true, rolloutPercent: 50 } : f));
    expect(flagsFromState(half).writeOwner).toBe('monolith');
  });

  it('names each way the flags differ from what the stage sets', () => {
    expect(flagsMismatch('shadow', 0, flagsForStage('shadow', 0))).toEqual([]);
    expect(flagsMismatch('canary', 25, { shadowPercent: 100, readPercent: 50, writeOwner: 'service' })).toEqual([
      'reads are 50 %, canary sets 25 %',
      'writes go to the service, canary gives them to the monolith',
    ]);
  });
});
