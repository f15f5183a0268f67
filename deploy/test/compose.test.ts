import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkProcess, startedBy } from './checks.ts';
import { REPO_ROOT } from './kustomize.ts';

/**
 * docker-compose.yml against the Compose Specification's JSON schema (the
 * copy dclint ships, read offline), then the same process checks as the
 * Kubernetes manifests: entry points, environments, healthchecks; plus
 * depends_on and the service names in URLs.
 */

// biome-ignore lint/suspicious/noExplicitAny: compose files are untyped data, checked by the schema.
type Compose = { services: Record<string, any> };

function composeSchema(): object {
  const dclint = dirname(createRequire(join(REPO_ROOT, 'package.json')).resolve('dclint/package.json'));
  const schema = JSON.parse(readFileSync(join(dclint, 'schemas/compose.schema.json'), 'utf8'));
  // Ajv knows draft-07 under its http identifier; the schema names it with https.
  delete schema.$schema;
  return schema;
}

const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
const validateCompose = ajv.compile(composeSchema());

const readCompose = (): Compose =>
  parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as Compose;

/** A healthcheck's `node -e "fetch('http://127.0.0.1:PORT/PATH')..."` as a probe. */
function probeOf(test: unknown): { path: string; port: number } | null {
  const m = /fetch\('http:\/\/127\.0\.0\.1:(\d+)(\/[^']*)'\)/.exec(Array.isArray(test) ? test.join(' ') : '');
  return m?.[1] && m[2] ? { port: Number(m[1]), path: m[2] } : null;
}

function problemsOf(compose: Compose): string[] {
  const problems: string[] = [];
  if (!validateCompose(compose)) {
    for (const e of validateCompose.errors ?? []) problems.push(`schema: ${e.instancePath} ${e.message}`);
  }
  const names = new Set(Object.keys(compose.services));
  for (const [name, service] of Object.entries(compose.services)) {
    const where = `service ${name}`;
    for (const dep of Object.keys(service.depends_on ?? {})) {
      if (!names.has(dep)) problems.push(`${where}: depends on ${dep}, which is no service`);
    }
    if (!String(service.image ?? '').startsWith('strangler')) continue;
    const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, String(v)]));
    for (const [key, value] of Object.entries(env)) {
      const url = /^https?:\/\/([a-z0-9-]+):(\d+)/.exec(value);
      if (!url?.[1]) continue;
      const target = compose.services[url[1]];
      if (!target) problems.push(`${where}: ${key} names ${url[1]}, which is no service`);
      else if (target.environment?.PORT && String(target.environment.PORT) !== url[2]) {
        problems.push(`${where}: ${key} uses port ${url[2]}, ${url[1]} listens on ${target.environment.PORT}`);
      } else if (!Object.keys(service.depends_on ?? {}).includes(url[1])) {
        problems.push(`${where}: ${key} needs ${url[1]}: add it to depends_on`);
      }
    }
    const probe = probeOf(service.healthcheck?.test);
    if (service.healthcheck && !probe) problems.push(`${where}: a healthcheck that is not a fetch of a local path`);
    const started = startedBy({ name, image: service.image, command: service.command });
    const longRunning = started?.entry !== 'migrations/src/cli/migrate.ts';
    if (longRunning && env.NODE_ENV !== 'production') problems.push(`${where}: NODE_ENV must be production`);
    problems.push(...checkProcess(where, { command: service.command }, env, probe ? [probe] : []));
  }
  return problems;
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification and agrees with the code', () => {
    expect(problemsOf(readCompose())).toEqual([]);
  });

  it('runs the whole demo: datastores, migrations, Unleash, ShopCo, both services, both syncs, the guard, the router', () => {
    const compose = readCompose();
    const entries = Object.values(compose.services).map((s) => startedBy({ name: '', image: '', command: s.command }));
    const started = entries.map((s) => (s ? [s.entry, ...s.args].join(' ') : ''));
    for (const expected of [
      'monolith/src/server.ts',
      'extracted/users/src/server.ts',
      'extracted/products/src/server.ts',
      'edge-router/src/server.ts',
      'flags/src/unleash-cli.ts',
      'migrations/src/cli/sync-worker.ts users',
      'migrations/src/cli/sync-worker.ts products',
      'migrations/src/cli/strangler.ts guard --watch --metrics-port 3090 --metrics-host 0.0.0.0',
      'migrations/src/cli/migrate.ts --database control',
    ]) {
      expect(started).toContain(expected);
    }
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', 'redis']));
  });

  const broken: Array<[string, (c: Compose) => void, RegExp]> = [
    [
      'a key the Compose Specification does not have',
      (c) => {
        c.services.monolith.healthcheck.intervall = '5s';
      },
      /schema: \/services\/monolith\/healthcheck must NOT have additional properties/,
    ],
    [
      'a secret left out',
      (c) => {
        delete c.services['products-service'].environment.INTERNAL_API_TOKEN;
      },
      /service products-service: .*INTERNAL_API_TOKEN must be set in production/,
    ],
    [
      'a healthcheck on a path the process does not serve',
      (c) => {
        c.services.guard.healthcheck.test = [
          'CMD',
          'node',
          '-e',
          "fetch('http://127.0.0.1:3090/ready').then(r=>process.exit(r.ok?0:1))",
        ];
      },
      /service guard: probes \/ready/,
    ],
    [
      'a URL naming no service',
      (c) => {
        c.services['edge-router'].environment.USERS_SERVICE_URL = 'http://users:3001';
      },
      /USERS_SERVICE_URL names users, which is no service/,
    ],
    [
      'a dependency on no service',
      (c) => {
        c.services.monolith.depends_on.unleashed = { condition: 'service_healthy' };
      },
      /depends on unleashed, which is no service/,
    ],
  ];
  for (const [what, breakIt, expected] of broken) {
    it(`catches ${what}`, () => {
      const compose = readCompose();
      breakIt(compose);
      const problems = problemsOf(compose);
      expect(
        problems.some((p) => expected.test(p)),
        problems.join('\n'),
      ).toBe(true);
    });
  }
});
