import { type ContextFlags, type FlagSnapshot, flagName, MONOLITH_ONLY, rolloutBucket } from '@strangler/flags';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DecisionInput, decide, pinsReads, writeOwnerOf } from '../src/decide.ts';
import { compileRoutes } from '../src/routes.ts';

const table = compileRoutes();
const services = new Set(['users', 'products']);

function flags(users: Partial<ContextFlags>, killSwitch = false): FlagSnapshot {
  return {
    killSwitch,
    contexts: { ...MONOLITH_ONLY.contexts, users: { ...MONOLITH_ONLY.contexts.users, ...users } },
  };
}

function input(method: string, path: string, f: FlagSnapshot, over: Partial<DecisionInput> = {}): DecisionInput {
  return {
    match: table.match(method, path.split('/').slice(1)),
    method,
    flags: f,
    services,
    stickyId: '42',
    shadowSample: 50,
    ...over,
  };
}

describe('the route table', () => {
  it('routes by route, not by prefix', () => {
    expect(table.match('GET', ['api', 'users', '7'])?.rule.context).toBe('users');
    expect(table.match('GET', ['api', 'users', '7', 'orders'])?.rule.context).toBe('orders');
    expect(table.match('GET', ['api', 'products', 'search'])?.key).toBe('GET /api/products/search');
    expect(table.match('GET', ['api', 'products', '9'])?.key).toBe('GET /api/products/:id');
    expect(table.match('DELETE', ['api', 'users', '7'])).toBeNull();
    expect(table.match('GET', ['API', 'users', '7'])).toBeNull();
    expect(table.match('GET', ['api', 'users', '7', ''])).toBeNull();
  });
});

describe('decide', () => {
  it('sends everything to the monolith when no flags are known', () => {
    for (const rule of table.rules) {
      const d = decide(input(rule.method, rule.path.replace(/:\w+/g, '1'), MONOLITH_ONLY));
      expect(d.target).toBe('monolith');
      expect(d.shadow).toBe(false);
    }
  });

  it('sends unrouted requests to the monolith', () => {
    expect(decide(input('GET', '/somewhere/else', flags({ readPercent: 100 }))).reason).toBe('unrouted');
  });

  it('obeys the kill switch over every other flag', () => {
    const d = decide(input('GET', '/api/users/1', flags({ readPercent: 100, writeOwner: 'service' }, true)));
    expect(d).toMatchObject({ target: 'monolith', reason: 'kill-switch' });
  });

  it('sends writes to the owner only, with no fallback and no mirror', () => {
    const toMonolith = decide(input('PUT', '/api/users/1', flags({ readPercent: 100, shadowPercent: 100 })));
    expect(toMonolith).toMatchObject({ target: 'monolith', fallback: false, shadow: false });
    const toService = decide(input('PUT', '/api/users/1', flags({ writeOwner: 'service' })));
    expect(toService).toMatchObject({ target: 'service', reason: 'write-owner', fallback: false, shadow: false });
  });

  it('sends the reads of a client that just wrote to the write owner, while reads are split or moved', () => {
    for (const readPercent of [1, 50, 100]) {
      const f = flags({ readPercent, shadowPercent: 100 });
      expect(decide(input('GET', '/api/users/1', f, { recentWrite: true }))).toMatchObject({
        target: 'monolith',
        reason: 'read-your-writes',
        shadow: false,
      });
      expect(decide(input('POST', '/api/users/login', f, { recentWrite: true })).target).toBe('monolith');
      expect(pinsReads(f, services, 'users')).toBe(true);
    }
    // The service owns the writes: its reads are already read-your-writes.
    const owned = flags({ readPercent: 100, writeOwner: 'service' });
    expect(decide(input('GET', '/api/users/1', owned, { recentWrite: true })).target).toBe('service');
    expect(pinsReads(owned, services, 'users')).toBe(false);
    // Nothing is split: no pin is needed.
    expect(pinsReads(flags({ shadowPercent: 100 }), services, 'users')).toBe(false);
    expect(writeOwnerOf(flags({ writeOwner: 'service' }, true), services, 'users')).toBe('monolith');
    expect(writeOwnerOf(flags({ writeOwner: 'service' }), new Set(), 'users')).toBe('monolith');
  });

  it('mirrors idempotent reads at the shadow rate, and never POSTs', () => {
    const f = flags({ shadowPercent: 30 });
    expect(decide(input('GET', '/api/users/1', f, { shadowSample: 29.9 })).shadow).toBe(true);
    expect(decide(input('GET', '/api/users/1', f, { shadowSample: 30 })).shadow).toBe(false);
    expect(decide(input('POST', '/api/users/login', f, { shadowSample: 0 })).shadow).toBe(false);
  });

  it('sends a user in the read rollout to the service, with fallback only for GETs', () => {
    const inUser = Array.from({ length: 1000 }, (_, i) => String(i)).find(
      (id) => rolloutBucket(flagName('users', 'reads'), id) <= 10,
    ) as string;
    const d = decide(input('GET', '/api/users/1', flags({ readPercent: 10 }), { stickyId: inUser }));
    expect(d).toMatchObject({ target: 'service', reason: 'canary', fallback: true });
    const login = decide(input('POST', '/api/users/login', flags({ readPercent: 10 }), { stickyId: inUser }));
    expect(login).toMatchObject({ target: 'service', fallback: false });
  });

  it('keeps routes of contexts without a service on the monolith', () => {
    const d = decide(input('GET', '/api/users/1', flags({ readPercent: 100 }), { services: new Set() }));
    expect(d.reason).toBe('no-service');
    expect(decide(input('POST', '/api/orders', flags({ writeOwner: 'service' }))).target).toBe('monolith');
  });

  it('never sends a write to the service unless the service owns writes (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          shadowPercent: fc.integer({ min: 0, max: 100 }),
          readPercent: fc.integer({ min: 0, max: 100 }),
          writeOwner: fc.constantFrom('monolith' as const, 'service' as const),
        }),
        fc.boolean(),
        fc.constantFrom(...table.rules),
        fc.string(),
        fc.double({ min: 0, max: 99.999, noNaN: true }),
        (ctx, kill, rule, stickyId, shadowSample) => {
          const f = flags(ctx, kill);
          const d = decide(input(rule.method, rule.path.replace(/:\w+/g, '5'), f, { stickyId, shadowSample }));
          if (rule.access === 'write') {
            expect(d.target === 'service').toBe(!kill && rule.context === 'users' && ctx.writeOwner === 'service');
            expect(d.fallback).toBe(false);
          }
          if (d.shadow) expect(d.target).toBe('monolith');
          if (d.fallback) expect(rule.method).toBe('GET');
        },
      ),
    );
  });

  it('only ever moves users to the service as the rollout rises (1,000 users, 10 % → 50 %)', () => {
    const users = Array.from({ length: 1000 }, (_, i) => String(i + 1));
    const onService = (percent: number) =>
      new Set(
        users.filter(
          (stickyId) =>
            decide(input('GET', '/api/users/1', flags({ readPercent: percent }), { stickyId })).target === 'service',
        ),
      );
    const at10 = onService(10);
    const at50 = onService(50);
    expect([...at10].filter((u) => !at50.has(u))).toEqual([]);
    expect(at10.size).toBeGreaterThan(70);
    expect(at10.size).toBeLessThan(130);
    expect(at50.size).toBeGreaterThan(450);
    expect(at50.size).toBeLessThan(550);
  });
});
