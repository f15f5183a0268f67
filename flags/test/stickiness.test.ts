// unleash-client is CommonJS and exports this helper only from its lib folder.
import unleashUtil from 'unleash-client/lib/strategy/util.js';
import { describe, expect, it } from 'vitest';
import { flagName } from '../src/definitions.ts';
import { inRollout, rolloutBucket } from '../src/stickiness.ts';

const USERS = Array.from({ length: 1_000 }, (_, i) => String(i + 1));
const GROUP = flagName('users', 'reads');

describe('sticky rollout', () => {
  it('never moves a user back to the monolith as the % rises from 10 to 50', () => {
    const at10 = USERS.filter((id) => inRollout(GROUP, id, 10));
    const at50 = new Set(USERS.filter((id) => inRollout(GROUP, id, 50)));
    expect(at10.filter((id) => !at50.has(id))).toEqual([]);
    // Buckets are a hash, so the shares are close to, not exactly, the %.
    expect(at10.length).toBeGreaterThan(70);
    expect(at10.length).toBeLessThan(130);
    expect(at50.size).toBeGreaterThan(450);
    expect(at50.size).toBeLessThan(550);
  });

  it('sends nobody at 0 % and everybody at 100 %', () => {
    expect(USERS.some((id) => inRollout(GROUP, id, 0))).toBe(false);
    expect(USERS.every((id) => inRollout(GROUP, id, 100))).toBe(true);
  });

  it("puts every user in the same bucket as unleash-client's flexibleRollout does", () => {
    const ids = [...USERS, '', 'alice@example.com', 'ünïcödé', '用户', '😀', 'a'.repeat(257)];
    for (const id of ids) {
      expect(rolloutBucket(GROUP, id), id).toBe(unleashUtil.normalizedStrategyValue(id, GROUP));
    }
  });

  it('hashes with the flag name as group, so the flags of one context pick different users', () => {
    const reads = USERS.filter((id) => inRollout(flagName('users', 'reads'), id, 10));
    const shadow = USERS.filter((id) => inRollout(flagName('users', 'shadow'), id, 10));
    expect(reads).not.toEqual(shadow);
  });
});
