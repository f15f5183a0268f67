import { join } from 'node:path';
import { CONTEXTS, describeState, type FlagSource } from '@strangler/flags';
import {
  createLogger,
  createRedis,
  drainOnClose,
  errorHandler,
  FenceMember,
  httpServerOptions,
  observability,
  strictBodyValidatorCompiler,
  TrafficRecorder,
} from '@strangler/foundation';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { registerAdmin, registerAdminAbsent } from './admin.ts';
import type { RouterConfig } from './config.ts';
import { type DashboardDeps, registerDashboard } from './dashboard/routes.ts';
import { writeOwnerOf } from './decide.ts';
import type { NoiseRule } from './diff.ts';
import { createIdentityResolver } from './identity.ts';
import { createRouterMetrics } from './metrics.ts';
import { NOISE_RULES } from './noise.ts';
import { registerProxy } from './proxy.ts';
import { compileRoutes } from './routes.ts';
import { ShadowRecorder } from './shadow.ts';
import { Upstream } from './upstream.ts';

export interface RouterDeps {
  /** The CLIs behind the dashboard's status and buttons; default: the repository's, with this process's environment. */
  dashboardCli?: DashboardDeps['cli'];
  flags: FlagSource;
  /** Shadow-diff noise rules by route; default: the declared ones of `noise.ts`. */
  noise?: Readonly<Record<string, NoiseRule>>;
  logger?: Logger;
  collectDefaultMetrics?: boolean;
}

/** Builds the edge router. Never listens: `server.ts` does, tests listen on port 0. */
export async function buildApp(config: RouterConfig, deps: RouterDeps): Promise<FastifyInstance> {
  const logger = deps.logger ?? createLogger({ name: 'edge-router', level: config.LOG_LEVEL });
  const app = Fastify({
    ...httpServerOptions({ logger, bodyLimit: config.BODY_LIMIT_BYTES }),
    trustProxy: false,
    // One line per request, written in the proxy's onResponse hook, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.setValidatorCompiler(strictBodyValidatorCompiler());

  // The router forwards bodies as the bytes it received: it parses none of them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const upstreamDefaults = {
    connections: config.UPSTREAM_CONNECTIONS,
    breaker: { failureThreshold: config.BREAKER_FAILURES, cooldownMs: config.BREAKER_COOLDOWN_MS },
    maxResponseBytes: config.MAX_RESPONSE_BYTES,
  };
  const monolith = new Upstream({
    ...upstreamDefaults,
    name: 'monolith',
    url: config.MONOLITH_URL,
    timeoutMs: config.MONOLITH_TIMEOUT_MS,
  });
  const services = new Map<string, Upstream>();
  for (const [context, url] of [
    ['users', config.USERS_SERVICE_URL],
    ['products', config.PRODUCTS_SERVICE_URL],
  ] as const) {
    if (url) {
      services.set(
        context,
        new Upstream({ ...upstreamDefaults, name: `${context}-service`, url, timeoutMs: config.SERVICE_TIMEOUT_MS }),
      );
    }
  }
  const upstreams = [monolith, ...services.values()];

  await app.register(errorHandler);
  await app.register(drainOnClose);
  await app.register(observability, {
    service: 'edge-router',
    requestMetrics: false,
    collectDefaults: deps.collectDefaultMetrics ?? false,
    readiness: [
      {
        name: 'monolith',
        check: async () => {
          const res = await fetch(new URL('/health', config.MONOLITH_URL), { signal: AbortSignal.timeout(1_000) });
          if (!res.ok) throw new Error(`monolith /health answered ${res.status}`);
        },
      },
      {
        // Never fails readiness: with no flags known the router still routes
        // (everything to the monolith). It says how current the flags are.
        name: 'flags',
        check: async () => describeState(deps.flags.state()),
      },
    ],
  });

  const redis = config.REDIS_URL
    ? createRedis({ url: config.REDIS_URL, role: 'client', connectionName: 'edge-router' })
    : null;
  // A Redis outage must not crash the router: counts are best effort.
  redis?.on('error', (err) => app.log.warn({ err: err.message }, 'redis unavailable; traffic counts not shared'));
  const traffic = redis ? new TrafficRecorder(redis, { prefix: config.TRAFFIC_KEY_PREFIX }) : undefined;
  const serviceNames = new Set(services.keys());
  const fence = redis
    ? new FenceMember(redis, {
        contexts: CONTEXTS,
        prefix: config.FENCE_KEY_PREFIX,
        holdMaxMs: config.WRITE_HOLD_MAX_MS,
        owners: () => {
          const snapshot = deps.flags.snapshot();
          return Object.fromEntries(CONTEXTS.map((c) => [c, writeOwnerOf(snapshot, serviceNames, c)]));
        },
        onError: (err) => app.log.warn({ err: err.message }, 'write fence: redis unavailable'),
      })
    : undefined;
  if (!fence) {
    app.log.warn('REDIS_URL is not set: this router cannot hold writes during a write cutover; do not cut over');
  }
  await fence?.start();
  const table = compileRoutes();
  const shadow = new ShadowRecorder();
  const metrics = createRouterMetrics(app.metrics, upstreams, deps.flags);
  registerProxy(app, {
    table,
    flags: deps.flags,
    identity: createIdentityResolver(config.JWT_SECRET),
    monolith,
    services,
    metrics,
    shadow,
    shadowMaxInFlight: config.SHADOW_MAX_IN_FLIGHT,
    noise: deps.noise ?? NOISE_RULES,
    traffic,
    fence,
    readYourWritesSeconds: config.READ_YOUR_WRITES_SECONDS,
    writeTimeoutGraceMs: config.WRITE_TIMEOUT_GRACE_MS,
  });
  if (config.ADMIN_TOKEN) {
    registerAdmin(app, {
      token: config.ADMIN_TOKEN,
      table,
      flags: deps.flags,
      services: serviceNames,
      shadow,
    });
    registerDashboard(app, {
      token: config.ADMIN_TOKEN,
      shadow,
      requests: metrics.requests,
      // The repository's own CLIs, run with this router's environment (the stack's databases, Redis, Unleash).
      cli: deps.dashboardCli ?? {
        strangler: join(import.meta.dirname, '../../migrations/src/cli/strangler.ts'),
        flags: join(import.meta.dirname, '../../flags/src/cli.ts'),
        env: process.env,
      },
    });
  } else {
    registerAdminAbsent(app);
  }
  app.addHook('onClose', async () => {
    await Promise.all(upstreams.map((u) => u.close()));
    await fence?.close();
    await traffic?.close();
    redis?.disconnect();
  });
  return app;
}
