import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface ReadinessCheck {
  name: string;
  /**
   * Resolves when the dependency answers; rejects (or times out) when it does
   * not. A string it resolves with is shown instead of "ok" (a detail that does
   * not make the service unready).
   */
  check: () => Promise<string | undefined>;
}

export interface ObservabilityOptions {
  service: string;
  readiness?: readonly ReadinessCheck[];
  /** Process-wide metrics (CPU, memory, event loop); off in tests that build many apps. */
  collectDefaults?: boolean;
  readinessTimeoutMs?: number;
  /** The per-route request histogram; off where the app keeps its own (the router). */
  requestMetrics?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

async function observabilityPlugin(app: FastifyInstance, opts: ObservabilityOptions): Promise<void> {
  const registry = new Registry();
  registry.setDefaultLabels({ service: opts.service });
  if (opts.collectDefaults) collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route and status',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  app.decorate('metrics', registry);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  if (opts.requestMetrics !== false)
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      if (route === '/metrics') return;
      duration.observe(
        { method: request.method, route, status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    });

  const timeoutMs = opts.readinessTimeoutMs ?? 2_000;
  app.get('/health', { logLevel: 'warn' }, async () => ({ status: 'ok', service: opts.service }));
  app.get('/ready', { logLevel: 'warn' }, async (_request, reply) => {
    const checks: Record<string, string> = {};
    let ready = true;
    await Promise.all(
      (opts.readiness ?? []).map(async ({ name, check }) => {
        try {
          checks[name] = (await withTimeout(check(), timeoutMs)) || 'ok';
        } catch (err) {
          ready = false;
          checks[name] = err instanceof Error ? err.message : String(err);
        }
      }),
    );
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', checks });
  });
  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

/** `/health`, `/ready`, `/metrics` and the `x-request-id` response header. */
export const observability = fp(observabilityPlugin, { name: 'strangler-observability', fastify: '5.x' });
