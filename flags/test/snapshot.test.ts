import { describe, expect, it } from 'vitest';
import { flagName, KILL_SWITCH } from '../src/definitions.ts';
import { MONOLITH_ONLY, rolloutPercent, snapshotFromToggles, type ToggleDefinition } from '../src/snapshot.ts';

const rollout = (name: string, percent: number | string, enabled = true): ToggleDefinition => ({
  name,
  enabled,
  strategies: [{ name: 'flexibleRollout', parameters: { rollout: percent, stickiness: 'userId', groupId: name } }],
});

describe('snapshotFromToggles', () => {
  it('is MONOLITH_ONLY when no flags are known', () => {
    expect(snapshotFromToggles([])).toEqual(MONOLITH_ONLY);
  });

  it('reads the rollout % of enabled flexibleRollout flags', () => {
    const snapshot = snapshotFromToggles([
      rollout(flagName('users', 'reads'), '25'),
      rollout(flagName('users', 'shadow'), 40),
      rollout(flagName('products', 'reads'), '100'),
    ]);
    expect(snapshot.contexts.users).toEqual({ shadowPercent: 40, readPercent: 25, writeOwner: 'monolith' });
    expect(snapshot.contexts.products.readPercent).toBe(100);
    expect(snapshot.killSwitch).toBe(false);
  });

  it('counts a disabled flag as 0 %, whatever its rollout', () => {
    const snapshot = snapshotFromToggles([rollout(flagName('users', 'reads'), '80', false)]);
    expect(snapshot.contexts.users.readPercent).toBe(0);
  });

  it('counts a missing flag as monolith', () => {
    const snapshot = snapshotFromToggles([rollout('some.other.flag', '100')]);
    expect(snapshot).toEqual(MONOLITH_ONLY);
  });

  it("counts a 'default' strategy as 100 %", () => {
    const snapshot = snapshotFromToggles([
      { name: flagName('users', 'reads'), enabled: true, strategies: [{ name: 'default' }] },
    ]);
    expect(snapshot.contexts.users.readPercent).toBe(100);
  });

  it('hands writes to the service only at 100 %', () => {
    const at = (percent: number) =>
      snapshotFromToggles([rollout(flagName('users', 'writes'), percent)]).contexts.users.writeOwner;
    expect(at(100)).toBe('service');
    expect(at(99)).toBe('monolith');
    expect(at(50)).toBe('monolith');
    expect(at(0)).toBe('monolith');
  });

  it('turns the kill switch on at any % above 0 and only when enabled', () => {
    expect(snapshotFromToggles([rollout(KILL_SWITCH, 100)]).killSwitch).toBe(true);
    expect(snapshotFromToggles([rollout(KILL_SWITCH, 0)]).killSwitch).toBe(false);
    expect(snapshotFromToggles([rollout(KILL_SWITCH, 100, false)]).killSwitch).toBe(false);
  });

  it('reads garbage as 0 % and never throws (a damaged backup must mean monolith)', () => {
    const name = flagName('users', 'reads');
    const garbage: unknown[] = [
      null,
      42,
      'strangler.users.reads',
      { name },
      { name, enabled: 'true', strategies: [{ name: 'default' }] },
      { name, enabled: 1, strategies: [{ name: 'default' }] },
      { name, enabled: true, strategies: 'default' },
      { name, enabled: true, strategies: [null, 7, { name: 'flexibleRollout', parameters: null }] },
      { name, enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: 'abc' } }] },
      { name, enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '-5' } }] },
      { name, enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: 101 } }] },
      { name, enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: Number.NaN } }] },
      { name, enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: '1,2' } }] },
    ];
    for (const entry of garbage) {
      expect(snapshotFromToggles([entry] as unknown as ToggleDefinition[]), JSON.stringify(entry)).toEqual(
        MONOLITH_ONLY,
      );
    }
    expect(snapshotFromToggles(null as unknown as ToggleDefinition[])).toEqual(MONOLITH_ONLY);
  });

  it('takes the largest rollout when a flag has several rollout strategies', () => {
    const toggle: ToggleDefinition = {
      name: 'x',
      enabled: true,
      strategies: [
        { name: 'flexibleRollout', parameters: { rollout: '10' } },
        { name: 'gradualRolloutUserId', parameters: { percentage: '30' } },
      ],
    };
    expect(rolloutPercent(toggle)).toBe(30);
  });

  it('returns frozen snapshots', () => {
    const snapshot = snapshotFromToggles([rollout(flagName('users', 'reads'), 5)]);
    expect(Object.isFrozen(snapshot)).toBe(true);
    expect(Object.isFrozen(snapshot.contexts.users)).toBe(true);
  });
});
