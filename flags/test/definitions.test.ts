import { describe, expect, it } from 'vitest';
import { checkRollout, initialRollout } from '../src/admin-api.ts';
import { loadFlagsConfig, REPO_ROOT } from '../src/config.ts';
import { FLAG_DEFINITIONS, findFlag, KILL_SWITCH, resolveFlagName } from '../src/definitions.ts';
import { describeEffect, type FlagEffectInput } from '../src/effect.ts';
import { InvalidRolloutError } from '../src/errors.ts';

const definition = (name: string) => {
  const found = findFlag(name);
  if (!found) throw new Error(`no flag ${name}`);
  return found;
};

describe('flag names', () => {
  it('accepts full and short names, in any case', () => {
    expect(resolveFlagName('strangler.users.reads')?.name).toBe('strangler.users.reads');
    expect(resolveFlagName('users.reads')?.name).toBe('strangler.users.reads');
    expect(resolveFlagName(' Users.Reads ')?.name).toBe('strangler.users.reads');
    expect(resolveFlagName('killswitch')?.name).toBe(KILL_SWITCH);
    expect(resolveFlagName('users')).toBeUndefined();
    expect(resolveFlagName('strangler.orders.reads')).toBeUndefined();
  });
});

describe('rollouts', () => {
  it('creates the all-or-nothing flags at 100 % and the gradual ones at 0 %', () => {
    const created = Object.fromEntries(FLAG_DEFINITIONS.map((d) => [d.name, initialRollout(d)]));
    expect(created).toEqual({
      'strangler.killswitch': 100,
      'strangler.users.shadow': 0,
      'strangler.users.reads': 0,
      'strangler.users.writes': 100,
      'strangler.products.shadow': 0,
      'strangler.products.reads': 0,
      'strangler.products.writes': 100,
    });
  });

  it('refuses a split of the writes or the kill switch', () => {
    expect(() => checkRollout(definition('strangler.users.writes'), 50)).toThrow(InvalidRolloutError);
    expect(() => checkRollout(definition('strangler.users.writes'), 50)).toThrow(/all or nothing/);
    expect(() => checkRollout(definition(KILL_SWITCH), 1)).toThrow(/all or nothing/);
    expect(() => checkRollout(definition('strangler.users.writes'), 100)).not.toThrow();
    expect(() => checkRollout(definition('strangler.users.writes'), 0)).not.toThrow();
  });

  it('refuses anything but a whole % from 0 to 100', () => {
    const reads = definition('strangler.users.reads');
    for (const bad of [-1, 101, 2.5, Number.NaN]) expect(() => checkRollout(reads, bad)).toThrow(/whole number/);
    expect(() => checkRollout(reads, 37)).not.toThrow();
  });
});

describe('describeEffect', () => {
  const base: FlagEffectInput = {
    kind: 'reads',
    context: 'users',
    exists: true,
    enabled: true,
    effectivePercent: 25,
    killSwitchOn: false,
  };

  it('says what the router does, in words', () => {
    expect(describeEffect(base)).toBe("25 % of users' reads → users service");
    expect(describeEffect({ ...base, context: 'products' })).toBe("25 % of users' products reads → products service");
    expect(describeEffect({ ...base, effectivePercent: 0 })).toBe('all users reads → monolith');
    expect(describeEffect({ ...base, kind: 'writes', effectivePercent: 100 })).toBe('users writes → users service');
    expect(describeEffect({ ...base, kind: 'killswitch', context: null, effectivePercent: 100 })).toMatch(
      /every route → monolith/,
    );
  });

  it('says when the kill switch overrides a flag, and when a flag is missing', () => {
    expect(describeEffect({ ...base, killSwitchOn: true })).toMatch(/kill switch overrides it/);
    expect(describeEffect({ ...base, exists: false, enabled: false, effectivePercent: 0 })).toMatch(
      /missing.*pnpm flags init/,
    );
  });
});

describe('loadFlagsConfig', () => {
  it('defaults to the local Unleash and a backup file under the repository root', () => {
    const config = loadFlagsConfig({});
    expect(config.UNLEASH_URL).toBe('http://127.0.0.1:4242');
    expect(config.UNLEASH_URL_GIVEN).toBe(false);
    expect(config.FLAG_REFRESH_MS).toBe(1000);
    expect(config.FLAG_BACKUP_PATH).toBe(`${REPO_ROOT}/.strangler/flags-backup.json`);
  });

  it('follows UNLEASH_PORT when UNLEASH_URL is not given, and strips a trailing slash', () => {
    expect(loadFlagsConfig({ UNLEASH_PORT: '4300' }).UNLEASH_URL).toBe('http://127.0.0.1:4300');
    const given = loadFlagsConfig({ UNLEASH_URL: 'https://flags.example.com/' });
    expect(given.UNLEASH_URL).toBe('https://flags.example.com');
    expect(given.UNLEASH_URL_GIVEN).toBe(true);
  });

  it('reports every bad variable at once', () => {
    expect(() => loadFlagsConfig({ FLAG_REFRESH_MS: 'soon', UNLEASH_PORT: '0' })).toThrow(
      /UNLEASH_PORT must be >= 1[\s\S]*FLAG_REFRESH_MS must be an integer/,
    );
    expect(() => loadFlagsConfig({ UNLEASH_URL: 'ftp://x' })).toThrow(/http or https/);
  });
});
