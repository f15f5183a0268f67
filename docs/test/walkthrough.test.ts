import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flagName, REPO_ROOT, UnleashAdminApi } from '@strangler/flags';
import { databaseUrlFor, withAdminClient } from '@strangler/foundation';
import { freePort, lockFlags, testServerUrls } from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The walkthrough (docs/adr/README.md) as a test: a newcomer's demo is
 * started, then every `sh try-it` block runs as written, in order, in one
 * bash (so variables carry from block to block, as in the reader's terminal),
 * and every `text expect` block's lines must appear in its block's output, in
 * order. Only the demo's ports differ from the defaults the course shows (a
 * demo may already run on this machine), and the demo's `export` line is run
 * first, as the course tells the reader to.
 */

const README = join(REPO_ROOT, 'docs/adr/README.md');

interface CourseBlock {
  /** 1-based, in reading order. */
  n: number;
  /** The step heading the block is under. */
  step: string;
  script: string;
  expect: string[];
}

/** Every `sh try-it` block and the `text expect` block right after it (if any). */
function courseBlocks(markdown: string): CourseBlock[] {
  const blocks: CourseBlock[] = [];
  const fence = /^```([^\n]*)\n([\s\S]*?)^```$/gm;
  let step = '';
  let last = 0;
  for (let m = fence.exec(markdown); m; m = fence.exec(markdown)) {
    const between = markdown.slice(last, m.index);
    const headings = [...between.matchAll(/^#{2,4} (.+)$/gm)];
    if (headings.length > 0) step = headings.at(-1)?.[1] ?? step;
    last = fence.lastIndex;
    const info = (m[1] ?? '').trim();
    const body = m[2] ?? '';
    if (info === 'sh try-it') blocks.push({ n: blocks.length + 1, step, script: body, expect: [] });
    else if (info === 'text expect') {
      const block = blocks.at(-1);
      if (!block || block.expect.length > 0) throw new Error(`an expect block under "${step}" follows no try-it block`);
      block.expect = body.split('\n').filter((l) => l.trim() !== '');
    }
  }
  return blocks;
}

/** The lines of `expected` that are not found in `output` in order (each after the previous one). */
function missingInOrder(output: string, expected: readonly string[]): string[] {
  const missing: string[] = [];
  let from = 0;
  for (const line of expected) {
    const at = output.indexOf(line, from);
    if (at < 0) missing.push(line);
    else from = at + line.length;
  }
  return missing;
}

describe('courseBlocks', () => {
  it('pairs each try-it block with the expect block after it, under its step', () => {
    const md = [
      '### 1. One',
      '```sh',
      'not run',
      '```',
      '```sh try-it',
      'echo a',
      '```',
      '```text expect',
      'a',
      '',
      '```',
      '### 2. Two',
      '```sh try-it',
      'echo b',
      '```',
    ].join('\n');
    expect(courseBlocks(md)).toEqual([
      { n: 1, step: '1. One', script: 'echo a\n', expect: ['a'] },
      { n: 2, step: '2. Two', script: 'echo b\n', expect: [] },
    ]);
    expect(missingInOrder('x a y b', ['a', 'b'])).toEqual([]);
    expect(missingInOrder('x b y a', ['a', 'b'])).toEqual(['b']);
  });
});

describe('the walkthrough, run as written against a demo', () => {
  const database = `strangler_walk_${process.pid}`;
  let demo: ChildProcess;
  let output = '';
  let dir: string;
  let release: () => Promise<void>;
  const ports = { monolith: 0, users: 0, products: 0, router: 0 };
  const demoEnv = () => ({
    ...process.env,
    DATABASE_URL: databaseUrlFor(testServerUrls().databaseUrl, database),
    REDIS_URL: testServerUrls().redisUrl,
    UNLEASH_URL: inject('unleashUrl'),
    UNLEASH_ADMIN_TOKEN: inject('unleashAdminToken'),
    UNLEASH_CLIENT_TOKEN: inject('unleashClientToken'),
  });

  async function resetFlags(): Promise<void> {
    const api = new UnleashAdminApi({ url: inject('unleashUrl'), token: inject('unleashAdminToken') });
    await api.killSwitch(false);
    for (const context of ['users', 'products'] as const) {
      for (const kind of ['writes', 'reads', 'shadow'] as const) {
        await api.disable(flagName(context, kind));
        if (kind !== 'writes') await api.setRollout(flagName(context, kind), 0);
      }
    }
  }

  beforeAll(async () => {
    release = await lockFlags();
    await resetFlags();
    dir = await mkdtemp(join(tmpdir(), 'strangler-walk-'));
    for (const key of Object.keys(ports) as Array<keyof typeof ports>) ports[key] = await freePort();
    demo = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'scripts/demo.ts'),
        ...['--database', database, '--port', String(ports.monolith), '--service-port', String(ports.users)],
        ...['--products-port', String(ports.products), '--router-port', String(ports.router)],
        ...['--guard-port', String(await freePort())],
        ...['--users', '20', '--products', '10', '--orders', '30'],
      ],
      { cwd: REPO_ROOT, env: demoEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    demo.stdout?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    demo.stderr?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const deadline = Date.now() + 90_000;
    while (!output.includes('Press Ctrl-C to stop.')) {
      if (demo.exitCode !== null || Date.now() > deadline) throw new Error(`the demo did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 120_000);

  afterAll(async () => {
    if (demo && demo.exitCode === null) {
      demo.kill('SIGINT');
      await Promise.race([once(demo, 'exit'), new Promise((r) => setTimeout(r, 20_000))]);
      if (demo.exitCode === null) demo.kill('SIGKILL');
    }
    await resetFlags().catch(() => {});
    await release?.();
    for (const name of [database, `${database}_users`, `${database}_products`, `${database}_strangler`]) {
      await withAdminClient(testServerUrls().databaseUrl, (c) =>
        c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
      );
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('runs every try-it block of docs/adr/README.md and sees what it says', async () => {
    const blocks = courseBlocks(await readFile(README, 'utf8'));
    expect(blocks.length).toBeGreaterThanOrEqual(7);
    // The demo prints the line the course asks the reader to run first when the stack differs from the defaults.
    const exportLine = /^ {2}(export .+)$/m.exec(output)?.[1];
    expect(exportLine, output).toBeDefined();
    // The course shows the default ports; this demo listens on free ones.
    const withPorts = (script: string) =>
      script
        .replaceAll('127.0.0.1:8080', `127.0.0.1:${ports.router}`)
        .replaceAll('127.0.0.1:3000', `127.0.0.1:${ports.monolith}`);
    const parts = ['set -euo pipefail', `cd '${REPO_ROOT}'`, exportLine as string];
    for (const block of blocks) {
      const out = join(dir, `block-${block.n}.out`);
      parts.push(`echo '== ${block.n}' >&2`, `{\n${withPorts(block.script)}\n} > '${out}' 2>&1`);
    }
    await writeFile(join(dir, 'course.sh'), `${parts.join('\n')}\n`);
    const bash = spawn('bash', [join(dir, 'course.sh')], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let progress = '';
    bash.stderr?.on('data', (c: Buffer) => {
      progress += c.toString();
    });
    const [code] = (await once(bash, 'exit')) as [number];
    const ran = [...progress.matchAll(/^== (\d+)$/gm)].map((m) => Number(m[1]));
    const lastRan = ran.at(-1) ?? 0;
    for (const block of blocks.filter((b) => b.n <= lastRan)) {
      const got = await readFile(join(dir, `block-${block.n}.out`), 'utf8').catch(() => '');
      const failedHere = code !== 0 && block.n === lastRan;
      expect(failedHere ? 'failed' : 'ran', `block ${block.n} ("${block.step}") exited with ${code}:\n${got}`).toBe(
        'ran',
      );
      expect(missingInOrder(got, block.expect), `block ${block.n} ("${block.step}") printed:\n${got}`).toEqual([]);
    }
    expect(lastRan).toBe(blocks.length);
  }, 600_000);
});
