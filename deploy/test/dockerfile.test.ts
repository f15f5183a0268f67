import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENTRY_POINTS, evidenceHolds, scriptedEntryPoints } from './components.ts';
import { REPO_ROOT } from './kustomize.ts';

/**
 * The Dockerfile cannot be built here (no Docker engine), so what can be
 * checked without one is: every workspace package is installed and copied,
 * every file it copies exists and is not excluded by .dockerignore, it runs
 * as the unprivileged user, and each target's command and HEALTHCHECK name an
 * entry point and a path it serves on the port it listens on.
 */

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const line of logical) {
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ name: m?.[2] ?? String(stages.length), from: m?.[1] ?? '', instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

/** A stage's instructions with those of the stages it is built FROM, oldest first. */
function lineage(stages: Stage[], stage: Stage): Instruction[] {
  const parent = stages.find((s) => s.name === stage.from);
  return [...(parent ? lineage(stages, parent) : []), ...stage.instructions];
}

function envOf(instructions: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of instructions.filter((x) => x.op === 'ENV')) {
    for (const m of i.args.matchAll(/(\w+)=(\S+)/g)) if (m[1] && m[2]) env[m[1]] = m[2];
  }
  return env;
}

const execForm = (i: Instruction | undefined): string[] => (i ? (JSON.parse(i.args) as string[]) : []);

/** Whether .dockerignore's patterns (the forms used there: names, globs with **) exclude a path. */
function ignored(path: string, patterns: string[]): boolean {
  return patterns.some((p) => {
    const re = new RegExp(`^${p.replace(/\*\*\//g, '(.*/)?').replace(/\*/g, '[^/]*')}(/.*)?$`);
    return re.test(path);
  });
}

function problemsOf(dockerfile: string, dockerignore: string): string[] {
  const problems: string[] = [];
  const stages = parseDockerfile(dockerfile);
  const patterns = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const lock = parse(readFileSync(join(REPO_ROOT, 'pnpm-lock.yaml'), 'utf8')) as { importers: Record<string, unknown> };
  const packages = Object.keys(lock.importers).filter((p) => p !== '.');
  const deps = stages.find((s) => s.name === 'deps');
  const runtime = stages.find((s) => s.name === 'runtime');
  if (!deps || !runtime) return ['the Dockerfile needs a deps and a runtime stage'];

  const copies = (stage: Stage) => stage.instructions.filter((i) => i.op === 'COPY').map((i) => i.args);
  for (const dir of packages) {
    if (!copies(deps).some((c) => c.startsWith(`${dir}/package.json `))) {
      problems.push(`deps: ${dir}/package.json is not copied, so the frozen install fails`);
    }
    if (!copies(runtime).some((c) => c.startsWith(`--from=deps /app/${dir}/node_modules `))) {
      problems.push(`runtime: ${dir}/node_modules is not copied from deps`);
    }
    if (!copies(runtime).some((c) => c.startsWith(`${dir}/src `))) problems.push(`runtime: ${dir}/src is not copied`);
  }
  for (const stage of stages) {
    for (const c of copies(stage).filter((x) => !x.startsWith('--from'))) {
      const sources = c.split(/\s+/).slice(0, -1);
      for (const source of sources) {
        if (!existsSync(join(REPO_ROOT, source))) problems.push(`${stage.name}: COPY ${source}: no such file`);
        else if (ignored(source, patterns)) problems.push(`${stage.name}: COPY ${source}: excluded by .dockerignore`);
      }
    }
  }
  const install = deps.instructions.find((i) => i.op === 'RUN' && i.args.includes('pnpm install'));
  if (!install?.args.includes('--frozen-lockfile') || !install.args.includes('--prod')) {
    problems.push('deps: pnpm install --frozen-lockfile --prod');
  }
  const base = deps.from.startsWith('$') ? nodeImage(dockerfile) : deps.from;
  if (!/^node:24[-.]/.test(base)) {
    problems.push('the base image must be Node 24');
  }

  for (const stage of stages.filter((s) => s.name !== 'deps')) {
    const all = lineage(stages, stage);
    const user = all.filter((i) => i.op === 'USER').at(-1)?.args;
    if (user !== 'node') problems.push(`${stage.name}: runs as ${user ?? 'root'}, not node`);
    const argv = [
      ...execForm(all.filter((i) => i.op === 'ENTRYPOINT').at(-1)),
      ...execForm(all.filter((i) => i.op === 'CMD').at(-1)),
    ];
    const [node, entryPath = '', ...args] = argv;
    const entry = ENTRY_POINTS[entryPath];
    if (node !== 'node' || !entry) {
      problems.push(`${stage.name}: its command ${JSON.stringify(argv)} is no entry point`);
      continue;
    }
    if (!scriptedEntryPoints().has(entryPath)) problems.push(`${stage.name}: no package script runs ${entryPath}`);
    const health = all.filter((i) => i.op === 'HEALTHCHECK').at(-1);
    const port = entry.listenPort(envOf(all), args);
    if (health && !health.args.startsWith('NONE')) {
      const m = /fetch\('http:\/\/127\.0\.0\.1:(\d+)(\/[^']*)'\)/.exec(health.args);
      const evidence = m?.[2] ? entry.serves[m[2]] : undefined;
      if (!m || !evidence || !evidenceHolds(evidence)) {
        problems.push(`${stage.name}: HEALTHCHECK asks ${m?.[2] ?? '?'}, which ${entryPath} does not serve`);
      } else if (Number(m[1]) !== port) {
        problems.push(`${stage.name}: HEALTHCHECK asks port ${m[1]}, ${entryPath} listens on ${port}`);
      }
    }
  }
  return problems;
}

function nodeImage(dockerfile: string): string {
  return /^ARG NODE_IMAGE=(\S+)/m.exec(dockerfile)?.[1] ?? '';
}

const DOCKERFILE = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const DOCKERIGNORE = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8');

describe('the Dockerfile', () => {
  it('installs and copies every workspace package, as node, with commands and healthchecks the code backs', () => {
    expect(problemsOf(DOCKERFILE, DOCKERIGNORE)).toEqual([]);
  });

  it('has a target per component', () => {
    const targets = parseDockerfile(DOCKERFILE).map((s) => s.name);
    for (const t of [
      'monolith',
      'users-service',
      'products-service',
      'edge-router',
      'sync-worker',
      'guard',
      'unleash',
    ]) {
      expect(targets).toContain(t);
    }
    expect(targets.at(-1)).toBe('edge-router');
  });

  const broken: Array<[string, (d: string, i: string) => [string, string], RegExp]> = [
    [
      'a workspace package left out of the install',
      (d, i) => [d.replace('COPY flags/package.json flags/\n', ''), i],
      /deps: flags\/package.json is not copied/,
    ],
    ['a source excluded by .dockerignore', (d, i) => [d, `${i}\nflags/src\n`], /COPY flags\/src: excluded/],
    [
      'a healthcheck on another port',
      (d, i) => [d.replace("127.0.0.1:3001/health'", "127.0.0.1:3000/health'"), i],
      /users-service: HEALTHCHECK asks port 3000/,
    ],
    ['root', (d, i) => [d.replace('USER node', 'USER root'), i], /runs as root, not node/],
  ];
  for (const [what, breakIt, expected] of broken) {
    it(`catches ${what}`, () => {
      const problems = problemsOf(...breakIt(DOCKERFILE, DOCKERIGNORE));
      expect(
        problems.some((p) => expected.test(p)),
        problems.join('\n'),
      ).toBe(true);
    });
  }
});
