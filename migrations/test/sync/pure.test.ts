import { describe, expect, it } from 'vitest';
import { canonicalRow, canonicalValue, diffByKey, digestOf } from '../../src/sync/canonical.ts';
import {
  captureFunctionName,
  jobIdOf,
  mapRow,
  notifyChannelName,
  reverseChannel,
  type SyncChannel,
  validateChannel,
} from '../../src/sync/channel.ts';
import { PoisonRowError, SyncConfigError } from '../../src/sync/errors.ts';
import { rateOf } from '../../src/sync/progress.ts';
import { usersMapping } from './harness.ts';

const channel: SyncChannel = {
  name: 'users-forward',
  direction: 'forward',
  sourceUrl: 'postgres://h/monolith',
  targetUrl: 'postgres://h/users',
  redisUrl: 'redis://h:6379',
  mappings: [usersMapping()],
};

describe('channels (no servers)', () => {
  it('derives SQL names and BullMQ job ids BullMQ accepts (no colon)', () => {
    expect(captureFunctionName(channel)).toBe('strangler_capture_users_forward');
    expect(notifyChannelName(channel)).toBe('strangler_outbox_users_forward');
    expect(jobIdOf(channel, '0f3c9a1b2d4e', 42)).toBe('users-forward.0f3c9a1b2d4e.42');
    expect(jobIdOf(channel, '0f3c9a1b2d4e', 42)).not.toContain(':');
  });

  it('refuses unsafe channel names and identifiers, and two mappings of one source table', () => {
    expect(() => validateChannel({ ...channel, name: 'users_forward' })).toThrow(SyncConfigError);
    expect(() => validateChannel({ ...channel, name: 'Users' })).toThrow(SyncConfigError);
    const bad = { ...usersMapping(), target: { table: 'copy users; drop table x', key: 'id' } };
    expect(() => validateChannel({ ...channel, mappings: [bad] })).toThrow(/safe Postgres identifier/);
    expect(() => validateChannel({ ...channel, mappings: [usersMapping(), usersMapping('other')] })).toThrow(
      /two mappings read source table "users"/,
    );
    expect(validateChannel(channel)).toBe(channel);
  });

  it('builds the reverse channel by swapping the databases and the direction', () => {
    const back = {
      name: 'copy',
      source: { table: 'copy_users', key: 'id' },
      target: { table: 'users', key: 'id' },
      toTarget: (r: Record<string, unknown>) => ({ id: r.id, full_name: r.name }),
    };
    const reverse = reverseChannel(channel, { name: 'users-reverse', mappings: [back] });
    expect(reverse).toMatchObject({
      name: 'users-reverse',
      direction: 'reverse',
      sourceUrl: channel.targetUrl,
      targetUrl: channel.sourceUrl,
      redisUrl: channel.redisUrl,
    });
  });

  it('turns a throwing mapping, a non-row and a changed key into PoisonRowError', () => {
    const m = usersMapping();
    const row = { id: 7, email: 'a@b', full_name: 'Ann', updated_at: new Date(0) };
    expect(mapRow(m, row)).toEqual({ id: 7, email: 'a@b', name: 'Ann', updated_at: new Date(0) });
    expect(() => mapRow(m, { ...row, full_name: 'POISON pill' })).toThrow(PoisonRowError);
    expect(() => mapRow({ ...m, toTarget: (r) => ({ ...r, id: 8 }) }, row)).toThrow(/must keep the key/);
    expect(() => mapRow({ ...m, toTarget: () => null as unknown as Record<string, unknown> }, row)).toThrow(
      /did not return a row/,
    );
  });
});

describe('canonical rows and diffs (no servers)', () => {
  it('writes timestamps as ISO strings and escapes text as JSON, so separators cannot collide', () => {
    expect(canonicalValue(new Date('2024-05-01T10:00:00.123Z'))).toBe('"2024-05-01T10:00:00.123Z"');
    expect(canonicalValue(null)).toBe('null');
    expect(canonicalValue(undefined)).toBe('null');
    expect(canonicalValue(12)).toBe('12');
    expect(canonicalValue('10.50')).toBe('"10.50"');
    expect(canonicalRow({ a: 'x,y', b: 'z' }, ['a', 'b'])).not.toBe(canonicalRow({ a: 'x', b: 'y,z' }, ['a', 'b']));
    expect(canonicalRow({ a: 'line\nbreak' }, ['a'])).not.toContain('\n');
  });

  it('digests rows in order and says empty for none', () => {
    expect(digestOf([])).toBe('empty');
    expect(digestOf(['1', '2'])).not.toBe(digestOf(['2', '1']));
    expect(digestOf(['1', '2'])).toBe(digestOf(['1', '2']));
  });

  it('sorts keys into missing, extra and different', () => {
    const source = new Map([
      ['1', 'a'],
      ['2', 'b'],
      ['3', 'c'],
    ]);
    const target = new Map([
      ['2', 'b'],
      ['3', 'C'],
      ['4', 'd'],
    ]);
    expect(diffByKey(source, target)).toEqual({ missing: ['1'], extra: ['4'], different: ['3'] });
  });
});

describe('backfill rate (no servers)', () => {
  it('extrapolates the ETA from this run, and has none before the first batch', () => {
    expect(rateOf(0, 0, 100)).toEqual({ rowsPerSecond: 0, etaSeconds: null });
    expect(rateOf(500, 1000, 1000)).toEqual({ rowsPerSecond: 500, etaSeconds: 2 });
    expect(rateOf(500, 1000, -3)).toEqual({ rowsPerSecond: 500, etaSeconds: 0 });
  });
});
