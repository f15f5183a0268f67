import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CONTEXTS } from '@strangler/flags';
import { secretMatches } from '@strangler/foundation';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Histogram } from 'prom-client';
import { presentedBearer } from '../admin.ts';
import { AdminUnauthorized, DashboardHeaderMissing } from '../errors.ts';
import type { ShadowRecorder } from '../shadow.ts';

/**
 * The migration dashboard at /_strangler/ (with ADMIN_TOKEN set). It shows
 * what `pnpm strangler status --json` says, with this router's shadow
 * mismatches, refreshed every few seconds; its buttons run the same CLI
 * (`advance`, `rollback`, `canary`, and `pnpm flags kill|unkill`), so a move
 * from the page goes through exactly the gates a move from a terminal does,
 * and a refusal shows the CLI's reason.
 *
 * Access: the admin token as a bearer header, or the HttpOnly,
 * SameSite=Strict session cookie the page's sign-in sets (a value derived
 * from the token, not the token: a copied cookie does not open the admin
 * API). Every data and change route refuses without one (401
 * ROUTER_ADMIN_UNAUTHORIZED); only the sign-in page and its chart library
 * are public, and they carry no data. Changes also need the
 * `x-strangler-dashboard` header, which a cross-site form cannot send.
 */

export interface DashboardDeps {
  token: string;
  shadow: ShadowRecorder;
  /** This router's request histogram (metrics.ts): its counts by target and status class feed the live rates. */
  requests: Histogram<'route' | 'target' | 'status'>;
  /** The CLIs the buttons and the status run, and their environment (the stack's databases, Redis, Unleash). */
  cli: { strangler: string; flags: string; env: NodeJS.ProcessEnv };
  /** How long a status stays fresh for the next request (ms). */
  statusTtlMs?: number;
}

const COOKIE = 'strangler_admin';
const PAGE = readFileSync(join(import.meta.dirname, 'page.html'), 'utf8');
const require = createRequire(import.meta.url);
const ASSETS: Record<string, { file: string; type: string }> = {
  'uplot.js': { file: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uplot.css': { file: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runCli(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, ...args],
      { env, timeout: 120_000, maxBuffer: 4 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr: stderr || (err && typeof err.code !== 'number' ? err.message : '') });
      },
    );
  });
}

function cookieValue(request: FastifyRequest): string | null {
  const header = request.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === COOKIE) return rest.join('=');
  }
  return null;
}

/** The session cookie's value for a token: fixed per token, useless as a bearer token. */
export function dashboardSession(token: string): string {
  return createHmac('sha256', token).update('strangler dashboard session').digest('base64url');
}

function bodyOf(request: FastifyRequest): Record<string, unknown> {
  const raw = request.body;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return {};
  try {
    const parsed = JSON.parse(raw.toString('utf8')) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Requests this router answered since it started, by target and status class ("monolith 2xx": 1234). */
async function requestCounts(histogram: DashboardDeps['requests']): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const v of (await histogram.get()).values) {
    if (!v.metricName?.endsWith('_count')) continue;
    const key = `${String(v.labels.target)} ${String(v.labels.status).charAt(0)}xx`;
    counts[key] = (counts[key] ?? 0) + v.value;
  }
  return counts;
}

export function registerDashboard(app: FastifyInstance, deps: DashboardDeps): void {
  const ttl = deps.statusTtlMs ?? 2_000;
  let cached: { at: number; value: Promise<unknown> } | null = null;

  const session = dashboardSession(deps.token);
  /**
   * A bearer header, when there is one, decides alone; else the session
   * cookie (a browser behind a basic-auth proxy sends other Authorization
   * headers with every request).
   */
  const requireSignedIn = async (request: FastifyRequest): Promise<void> => {
    const bearer = presentedBearer(request.headers.authorization);
    const ok = bearer !== null ? secretMatches(bearer, deps.token) : secretMatches(cookieValue(request), session);
    if (!ok) throw new AdminUnauthorized();
  };

  /** Before a change: signed in, and the header a cross-site form cannot send. */
  const mayChange = async (request: FastifyRequest) => {
    await requireSignedIn(request);
    if (request.headers['x-strangler-dashboard'] !== '1') throw new DashboardHeaderMissing();
  };

  /** One `strangler status --json` at a time, shared by every viewer for `ttl`. */
  const status = (): Promise<unknown> => {
    if (cached && Date.now() - cached.at < ttl) return cached.value;
    const value = runCli(deps.cli.strangler, ['status', '--json'], deps.cli.env).then((r) => {
      try {
        return JSON.parse(r.stdout) as unknown;
      } catch {
        return { unavailable: (r.stderr || r.stdout).trim().split('\n')[0] ?? `exit ${r.code}` };
      }
    });
    cached = { at: Date.now(), value };
    return value;
  };

  app.get('/_strangler', (_request, reply) => reply.redirect('/_strangler/'));
  app.get('/_strangler/', (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
  app.get<{ Params: { name: string } }>('/_strangler/assets/:name', (request, reply) => {
    const asset = ASSETS[request.params.name];
    if (!asset) return reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'no such asset' } });
    return reply.type(asset.type).header('cache-control', 'max-age=3600').send(readFileSync(asset.file));
  });

  app.post('/_strangler/session', async (request, reply) => {
    const token = bodyOf(request).token;
    if (!secretMatches(typeof token === 'string' ? token : null, deps.token)) throw new AdminUnauthorized();
    return reply
      .header('set-cookie', `${COOKIE}=${session}; Path=/_strangler; HttpOnly; SameSite=Strict; Max-Age=43200`)
      .send({ ok: true });
  });

  app.get('/_strangler/api/dashboard', { onRequest: requireSignedIn }, async () => {
    return {
      at: new Date().toISOString(),
      status: await status(),
      requests: await requestCounts(deps.requests),
      shadow: { stats: Object.fromEntries(deps.shadow.stats), recentMismatches: deps.shadow.recent() },
    };
  });

  app.post<{ Params: { context: string; action: string } }>(
    '/_strangler/api/contexts/:context/:action',
    { onRequest: mayChange },
    async (request, reply) => {
      const { context, action } = request.params;
      const body = bodyOf(request);
      if (!(CONTEXTS as readonly string[]).includes(context) || !['advance', 'rollback', 'canary'].includes(action)) {
        return reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no action ${action} for ${context}` } });
      }
      const args = [action, context];
      if (action === 'canary') {
        const percent = body.percent;
        if (!Number.isInteger(percent) || (percent as number) < 1 || (percent as number) > 99) {
          return reply
            .status(400)
            .send({ error: { code: 'VALIDATION_FAILED', message: 'percent must be a whole number from 1 to 99' } });
        }
        args.push(String(percent));
      }
      const reason =
        typeof body.reason === 'string' && body.reason.trim() ? body.reason.trim().slice(0, 200) : 'from the dashboard';
      args.push('--reason', reason, '--actor', 'dashboard');
      const result = await runCli(deps.cli.strangler, args, deps.cli.env);
      cached = null;
      return { ok: result.code === 0, ...result };
    },
  );

  app.post('/_strangler/api/kill-switch', { onRequest: mayChange }, async (request, reply) => {
    const on = bodyOf(request).on;
    if (typeof on !== 'boolean') {
      return reply.status(400).send({ error: { code: 'VALIDATION_FAILED', message: 'on must be true or false' } });
    }
    const result = await runCli(deps.cli.flags, [on ? 'kill' : 'unkill'], deps.cli.env);
    cached = null;
    return { ok: result.code === 0, ...result };
  });
}
