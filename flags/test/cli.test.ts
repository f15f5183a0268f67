import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { lockFlags } from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlagStatus } from '../src/admin-api.ts';
import { REPO_ROOT } from '../src/config.ts';
import { FLAG_DEFINITIONS, KILL_SWITCH } from '../src/definitions.ts';
import { adminApi, deadUrl, testUnleash } from './helpers.ts';

/**
 * `pnpm flags` end to end: the real script in a child process against the
 * run's Unleash. These tests own the `users` flags and the kill switch.
 */

const CLI = join(REPO_ROOT, 'flags/src/cli.ts');
const run = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function flags(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const { url, adminToken } = testUnleash();
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      // Not the test process's env: its UNLEASH_* must not leak in.
      env: { PATH: process.env.PATH ?? '', UNLEASH_URL: url, UNLEASH_ADMIN_TOKEN: adminToken, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A failure is one line on stderr, no stack trace. */
function expectOneLineError(result: Result, code: number, pattern: RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

describe('pnpm flags', () => {
  const reset = async () => {
    const api = adminApi();
    await api.killSwitch(false);
    await api.setRollout('users.reads', 0);
    await api.disable('users.reads');
  };
  // Other test files change the same flags: run one at a time.
  let release: () => Promise<void>;
  beforeAll(async () => {
    release = await lockFlags();
    await reset();
  });
  afterAll(async () => {
    await reset();
    await release();
  });

  it('prints help and exits 0 with --help, globally and per command', async () => {
    const global = await flags(['--help']);
    expect(global.code).toBe(0);
    for (const command of ['list', 'show', 'set', 'enable', 'disable', 'kill', 'unkill', 'init']) {
      expect(global.stdout).toContain(command);
    }
    const set = await flags(['set', '--help']);
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/^Usage: pnpm flags set <flag> <percent>/);
  });

  it('lists every flag in an aligned table', async () => {
    const { code, stdout } = await flags(['list']);
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    const header = lines.find((l) => l.startsWith('FLAG')) ?? '';
    const rows = lines.filter((l) => l.startsWith('strangler.'));
    expect(rows.map((r) => r.split(/\s+/)[0])).toEqual(FLAG_DEFINITIONS.map((d) => d.name));
    for (const column of ['ENABLED', 'ROLLOUT', 'EFFECT', 'LAST CHANGED']) {
      const at = header.indexOf(column);
      expect(at, column).toBeGreaterThan(0);
      // Each value starts exactly under its heading, after the padding of the column before.
      for (const row of rows) expect(row.slice(at - 2, at), `${column} in "${row}"`).toBe('  ');
      for (const row of rows) expect(row[at], `${column} in "${row}"`).not.toBe(' ');
    }
    expect(rows.find((r) => r.startsWith('strangler.users.reads'))).toMatch(/all users reads → monolith/);
  });

  it('sets a rollout that show then reports, and enabling applies it', async () => {
    const set = await flags(['set', 'users.reads', '25']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/strangler\.users\.reads: rollout 0 % → 25 %/);
    expect(set.stdout).toMatch(/disabled/);

    const show = await flags(['show', 'users.reads']);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/rollout\s+25 %/);

    const enable = await flags(['enable', 'strangler.users.reads']);
    expect(enable.stdout).toMatch(/25 % of users' reads → users service/);
    const json = JSON.parse((await flags(['show', 'users.reads', '--json'])).stdout) as FlagStatus;
    expect(json).toMatchObject({
      name: 'strangler.users.reads',
      enabled: true,
      rolloutPercent: 25,
      effectivePercent: 25,
    });
    expect(json.lastChange?.event).toBe('feature-environment-enabled');
  });

  it('turns the kill switch on and off', async () => {
    expect((await flags(['kill'])).stdout).toMatch(/Kill switch ON/);
    const list = await flags(['list']);
    expect(list.stdout).toMatch(/KILL SWITCH ON/);
    const killSwitch = (JSON.parse((await flags(['list', '--json'])).stdout) as FlagStatus[]).find(
      (f) => f.name === KILL_SWITCH,
    );
    expect(killSwitch).toMatchObject({ enabled: true, effectivePercent: 100 });
    expect((await flags(['unkill'])).stdout).toMatch(/Kill switch off/);
    expect((await adminApi().getFlag(KILL_SWITCH)).enabled).toBe(false);
  });

  it('reports that every flag is there on init', async () => {
    const { code, stdout } = await flags(['init']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/All 7 flags are in Unleash/);
  });

  it('fails with one line and exit 1 for an unknown flag, naming the valid ones', async () => {
    expectOneLineError(await flags(['show', 'users.nope']), 1, /unknown flag "users\.nope".*users\.reads/);
  });

  it('refuses a split of the writes', async () => {
    expectOneLineError(await flags(['set', 'users.writes', '50']), 1, /all or nothing/);
  });

  it('fails with one line and exit 1 for a bad token, naming the variable', async () => {
    expectOneLineError(
      await flags(['list'], { UNLEASH_ADMIN_TOKEN: '*:*.wrong' }),
      1,
      /refused the token in UNLEASH_ADMIN_TOKEN \(401/,
    );
  });

  it('fails with one line and exit 1 when Unleash is down, saying how to start it', async () => {
    const url = await deadUrl();
    expectOneLineError(
      await flags(['list'], { UNLEASH_URL: url }),
      1,
      new RegExp(`cannot reach Unleash at ${url} \\(connection refused\\).*pnpm unleash.*UNLEASH_URL`),
    );
  });

  it('exits 2 for usage errors', async () => {
    expectOneLineError(await flags(['set', 'users.reads', 'lots']), 2, /whole number from 0 to 100/);
    expectOneLineError(await flags(['show']), 2, /show takes <flag>/);
    expectOneLineError(await flags(['frobnicate']), 2, /unknown command "frobnicate"/);
    expectOneLineError(await flags(['list', '--bogus']), 2, /unknown option --bogus/);
  });
});
