import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { lockFlags } from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FlagEvent, flagEventOf } from '../src/admin-api.ts';
import { DEVELOPMENT_UNLEASH_ADMIN_TOKEN, REPO_ROOT } from '../src/config.ts';
import { adminApi, deadUrl, testUnleash } from './helpers.ts';

/**
 * Flag changes are attributable: Unleash's event log records who (the user
 * of the token), when and what; `pnpm flags history` shows it, and every
 * change the CLI makes says who it was recorded as. Against the run's real
 * Unleash, with a real person's personal access token.
 */

const CLI = join(REPO_ROOT, 'flags/src/cli.ts');
const run = promisify(execFile);
const FLAG = 'products.shadow';

async function flags(args: string[], env: Record<string, string> = {}) {
  const { url, adminToken } = testUnleash();
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', UNLEASH_URL: url, UNLEASH_ADMIN_TOKEN: adminToken, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function expectOneLineError(result: { code: number; stderr: string }, code: number, pattern: RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
}

/** A person in Unleash with a personal access token: what an operator would put in UNLEASH_ADMIN_TOKEN. */
async function personWithToken(username: string): Promise<string> {
  const { url, adminToken } = testUnleash();
  const password = `Pw-${randomUUID()}`;
  const created = await fetch(`${url}/api/admin/user-admin`, {
    method: 'POST',
    headers: { authorization: adminToken, 'content-type': 'application/json' },
    body: JSON.stringify({ username, name: username, rootRole: 'Admin', password, sendEmail: false }),
  });
  expect(created.status, await created.clone().text()).toBe(201);
  const login = await fetch(`${url}/auth/simple/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  expect(login.status).toBe(200);
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  // Unleash stores the new session after it answers the login: the first use of it can come too early.
  let pat: Response | undefined;
  for (let attempt = 0; attempt < 20 && pat?.status !== 201; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    pat = await fetch(`${url}/api/admin/user/tokens`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ description: 'flags CLI', expiresAt: new Date(Date.now() + 86_400_000).toISOString() }),
    });
  }
  expect(pat?.status, await pat?.clone().text()).toBe(201);
  if (!pat) throw new Error('no answer');
  return ((await pat.json()) as { secret: string }).secret;
}

describe('flagEventOf', () => {
  const base = { id: 1, createdBy: 'ada', createdAt: '2026-11-25T08:00:00.000Z', featureName: 'strangler.users.reads' };
  const rollout = (r: string) => ({ name: 'flexibleRollout', parameters: { rollout: r, stickiness: 'userId' } });

  it.each<[string, object, string]>([
    ['feature-created', {}, 'created'],
    ['feature-environment-enabled', { environment: 'development' }, 'disabled → enabled'],
    ['feature-environment-disabled', { environment: 'development' }, 'enabled → disabled'],
    ['feature-strategy-add', { data: rollout('0') }, 'flexibleRollout strategy added at 0 %'],
    ['feature-strategy-update', { preData: rollout('10'), data: rollout('25') }, 'rollout 10 % → 25 %'],
    [
      'feature-strategy-update',
      { preData: rollout('25'), data: rollout('25') },
      'flexibleRollout updated (rollout 25 %)',
    ],
    ['feature-strategy-remove', { preData: rollout('5') }, 'flexibleRollout strategy removed (was 5 %)'],
    ['feature-archived', { label: 'Flag archived' }, 'Flag archived'],
  ])('describes %s as what changed', (type, extra, change) => {
    const event: FlagEvent = flagEventOf({ ...base, type, ...extra });
    expect(event).toMatchObject({ id: 1, by: 'ada', at: base.createdAt, flag: 'strangler.users.reads', change });
  });
});

describe('pnpm flags history', () => {
  let release: () => Promise<void>;
  let aliceToken: string;
  const alice = `alice-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    release = await lockFlags();
    aliceToken = await personWithToken(alice);
  }, 60_000);
  afterAll(async () => {
    await adminApi().setRollout(FLAG, 0);
    await adminApi().disable(FLAG);
    await release?.();
  });

  it('names the person who made each change, when, and the old and new values', async () => {
    await adminApi().setRollout(FLAG, 10);
    const set = await flags(['set', FLAG, '35'], { UNLEASH_ADMIN_TOKEN: aliceToken });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain(`Recorded in Unleash's event log as ${alice}`);
    const enable = await flags(['enable', FLAG]);
    expect(enable.stdout).toContain("Recorded in Unleash's event log as admin");

    const history = await flags(['history', FLAG, '--limit', '5']);
    expect(history.code, history.stderr).toBe(0);
    const lines = history.stdout.split('\n');
    expect(lines[0]).toMatch(/^WHEN\s+WHO\s+FLAG\s+CHANGE$/);
    expect(lines[1]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\dZ\s+admin\s+strangler\.products\.shadow\s+disabled → enabled$/);
    expect(lines[2]).toMatch(new RegExp(`\\s${alice}\\s+strangler\\.products\\.shadow\\s+rollout 10 % → 35 %$`));
    expect(history.stdout).toContain('pnpm strangler history <context>');

    const json = await flags(['history', FLAG, '--json', '--limit', '2']);
    const events = JSON.parse(json.stdout) as FlagEvent[];
    expect(events).toHaveLength(2);
    expect(events[1]).toMatchObject({ by: alice, event: 'feature-strategy-update', change: 'rollout 10 % → 35 %' });
    expect(Date.parse(events[1]?.at ?? '')).toBeGreaterThan(Date.now() - 120_000);
  });

  it('shows the changes of every migration flag without a flag name', async () => {
    const all = await flags(['history', '--json', '--limit', '50']);
    const events = JSON.parse(all.stdout) as FlagEvent[];
    expect(events.length).toBeGreaterThan(1);
    expect(events.every((e) => e.flag.startsWith('strangler.'))).toBe(true);
  });

  it('explains itself, and fails with one clear line', async () => {
    const help = await flags(['history', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: pnpm flags history [flag] [--limit N] [--json]');
    expect((await flags(['--help'])).stdout).toContain('history [flag]');
    expectOneLineError(await flags(['history', 'nope.reads']), 1, /unknown flag "nope\.reads"/);
    expectOneLineError(await flags(['history', '--limit', 'lots']), 2, /--limit must be a whole number/);
    expectOneLineError(await flags(['history', 'users.reads', 'extra']), 2, /history takes \[flag\]/);
    expectOneLineError(await flags(['history'], { UNLEASH_URL: await deadUrl() }), 1, /cannot reach Unleash/);
    expectOneLineError(await flags(['history'], { UNLEASH_ADMIN_TOKEN: '*:*.wrong' }), 1, /UNLEASH_ADMIN_TOKEN/);
  });
});

describe('the flags CLI in production', () => {
  it('refuses to run without an admin token of its own, naming the variable', async () => {
    const missing = await flags(['list'], { NODE_ENV: 'production', UNLEASH_ADMIN_TOKEN: '' });
    expectOneLineError(missing, 2, /UNLEASH_ADMIN_TOKEN must be set .*production has no development default/);
    const dev = await flags(['list'], { NODE_ENV: 'production', UNLEASH_ADMIN_TOKEN: DEVELOPMENT_UNLEASH_ADMIN_TOKEN });
    expectOneLineError(dev, 2, /UNLEASH_ADMIN_TOKEN is the development default/);
  });
});
