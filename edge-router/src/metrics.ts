import type { FlagSource } from '@strangler/flags';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Upstream } from './upstream.ts';

const BREAKER_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;
const FLAG_STATES = ['fresh', 'stale', 'bootstrap-only', 'none'] as const;

export interface RouterMetrics {
  requests: Histogram<'route' | 'target' | 'status'>;
  shadow: Counter<'route' | 'result'>;
  fallbacks: Counter<'context' | 'reason'>;
  writesHeld: Counter<'context' | 'result'>;
}

export function createRouterMetrics(
  registry: Registry,
  upstreams: readonly Upstream[],
  flags: FlagSource,
): RouterMetrics {
  new Gauge({
    name: 'router_breaker_state',
    help: 'Circuit breaker per upstream: 0 closed, 1 half-open, 2 open',
    labelNames: ['upstream'],
    registers: [registry],
    collect() {
      for (const u of upstreams) this.set({ upstream: u.name }, BREAKER_VALUE[u.breaker.state]);
    },
  });
  new Gauge({
    name: 'router_flag_client_state',
    help: 'The flag client state: 1 for the current one (fresh, stale, bootstrap-only, none)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const current = flags.state().kind;
      for (const state of FLAG_STATES) this.set({ state }, state === current ? 1 : 0);
    },
  });
  return {
    requests: new Histogram({
      name: 'router_request_duration_seconds',
      help: 'Requests through the router by route, target and status',
      labelNames: ['route', 'target', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    shadow: new Counter({
      name: 'router_shadow_total',
      help: 'Shadow comparisons by route and result (match, mismatch, error, skipped)',
      labelNames: ['route', 'result'],
      registers: [registry],
    }),
    fallbacks: new Counter({
      name: 'router_fallbacks_total',
      help: 'Reads the service failed that the monolith answered instead',
      labelNames: ['context', 'reason'],
      registers: [registry],
    }),
    writesHeld: new Counter({
      name: 'router_writes_held_total',
      help: 'Writes held by a write cutover: released (carried out after the hold) or refused (503 after the longest wait)',
      labelNames: ['context', 'result'],
      registers: [registry],
    }),
  };
}
