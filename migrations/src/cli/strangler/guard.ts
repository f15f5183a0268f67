import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { type ContextName, isContextName } from '../../stages/contexts.ts';
import { describeNumbers, type GuardPolicy } from '../../stages/guard.ts';
import { type GuardCheck, guardContext } from '../../stages/guard-run.ts';
import { describeFailure } from '../../stages/measured.ts';
import type { StranglerConfig } from './config.ts';
import { timestamp } from './format.ts';
import type { CliIo } from './output.ts';
import type { Session } from './session.ts';

/**
 * `strangler guard [context] [--watch]`: the guarded rollout (docs/adr/0015).
 * Once, or every `--interval` seconds with `--watch`, it judges the reads of
 * each context in canary or reads and sets the read rollout back when the
 * service is worse than the monolith (stages/guard-run.ts). With
 * `--metrics-port` a watching guard serves its verdicts on /metrics.
 */

export interface GuardArgs {
  context: ContextName | null;
  watch: boolean;
  intervalSeconds: number;
  json: boolean;
  metricsPort: number | null;
  /** Where /metrics listens: loopback by default; 0.0.0.0 for a scraper on another host or pod. */
  metricsHost: string;
}

export function guardPolicyOf(config: StranglerConfig): GuardPolicy {
  return {
    windowSeconds: config.GUARD_WINDOW_SECONDS,
    minRequests: config.GUARD_MIN_REQUESTS,
    errorRateMargin: config.GUARD_ERROR_RATE_MARGIN,
    p99MarginMs: config.GUARD_P99_MARGIN_MS,
    setback: config.GUARD_SETBACK,
  };
}

/** One line per check: what the guard saw and did. */
export function describeCheck(c: GuardCheck): string {
  const where = `${c.context} at ${c.stage}${c.stage === 'canary' ? ` ${c.canaryPercent} %` : ''}`;
  const v = c.verdict;
  switch (v.kind) {
    case 'idle':
      return `${where}: not guarded (${v.reason})`;
    case 'waiting':
      return `${where}: waiting for traffic: ${v.reason}`;
    case 'healthy':
      return `${where}: healthy: ${describeNumbers(v.numbers)}`;
    case 'worse': {
      const action = c.action;
      if (action && 'setback' in action) {
        return `${where}: SET BACK to canary ${action.setback.to.percent} %: ${v.reasons.join('; ')} (${describeNumbers(v.numbers)})`;
      }
      return `${where}: worse (${v.reasons.join('; ')}), not set back: ${action && 'skipped' in action ? action.skipped : 'no action'}`;
    }
  }
}

class GuardMetrics {
  readonly registry = new Registry();
  readonly #checks = new Counter({
    name: 'strangler_guard_checks_total',
    help: 'Guard checks by context and verdict (idle, waiting, healthy, worse)',
    labelNames: ['context', 'verdict'],
    registers: [this.registry],
  });
  readonly #setbacks = new Counter({
    name: 'strangler_guard_setbacks_total',
    help: 'Read rollouts the guard set back, by context',
    labelNames: ['context'],
    registers: [this.registry],
  });
  readonly #failures = new Counter({
    name: 'strangler_guard_check_failures_total',
    help: 'Guard checks that could not measure or act (a server away), by context',
    labelNames: ['context'],
    registers: [this.registry],
  });
  readonly #errorRate = new Gauge({
    name: 'strangler_guard_read_error_rate',
    help: 'Error rate of reads in the guard window, by context and side',
    labelNames: ['context', 'side'],
    registers: [this.registry],
  });
  readonly #p99 = new Gauge({
    name: 'strangler_guard_read_p99_seconds',
    help: 'p99 latency (histogram bucket bound) of reads in the guard window, by context and side',
    labelNames: ['context', 'side'],
    registers: [this.registry],
  });
  readonly #readPercent = new Gauge({
    name: 'strangler_guard_read_percent',
    help: 'The % of reads the stage gives the service, as the guard last saw it',
    labelNames: ['context'],
    registers: [this.registry],
  });

  observe(c: GuardCheck): void {
    this.#checks.inc({ context: c.context, verdict: c.verdict.kind });
    if (c.action && 'setback' in c.action) this.#setbacks.inc({ context: c.context });
    const full = c.stage === 'reads' || c.stage === 'writes' || c.stage === 'complete';
    this.#readPercent.set({ context: c.context }, full ? 100 : c.stage === 'canary' ? c.canaryPercent : 0);
    if (c.verdict.kind === 'idle') return;
    for (const side of ['service', 'monolith'] as const) {
      const s = c.verdict.numbers[side];
      this.#errorRate.set({ context: c.context, side }, s.errorRate);
      // No reads, no p99: the series goes away rather than keep an old value.
      if (s.p99Ms === null) this.#p99.remove({ context: c.context, side });
      else this.#p99.set({ context: c.context, side }, s.p99Ms / 1000);
    }
  }

  failed(context: string): void {
    this.#failures.inc({ context });
  }
}

async function serveMetrics(metrics: GuardMetrics, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      void metrics.registry.metrics().then((body) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(body);
      });
    } else if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"NOT_FOUND","message":"the guard serves /metrics and /health"}}');
    }
  });
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}

export async function guardCommand(session: Session, args: GuardArgs, io: CliIo): Promise<void> {
  const control = await session.control();
  const deps = {
    db: control.db,
    redis: session.redis(),
    trafficPrefix: session.config.TRAFFIC_KEY_PREFIX,
    unleash: session.unleash(),
    fence: session.fence(),
    policy: guardPolicyOf(session.config),
    print: (line: string) => io.out(`  ${line}`),
  };
  const names = args.context ? [args.context] : (Object.keys(session.contexts).filter(isContextName) as ContextName[]);
  const metrics = new GuardMetrics();

  const round = async (): Promise<GuardCheck[]> => {
    const checks: GuardCheck[] = [];
    for (const name of names) {
      try {
        const check = await guardContext(deps, name);
        metrics.observe(check);
        checks.push(check);
      } catch (err) {
        metrics.failed(name);
        if (!args.watch) throw err;
        io.err(`${timestamp(new Date())} ${name}: could not check: ${describeFailure(err)}; trying again next round`);
      }
    }
    return checks;
  };

  if (!args.watch) {
    const checks = await round();
    if (args.json) io.out(JSON.stringify(checks, null, 2));
    else for (const c of checks) io.out(describeCheck(c));
    return;
  }

  const server = args.metricsPort === null ? null : await serveMetrics(metrics, args.metricsPort, args.metricsHost);
  const p = deps.policy;
  io.out(
    `guarding ${names.join(', ')} every ${args.intervalSeconds} s: window ${p.windowSeconds} s, at least ${p.minRequests} reads a side, margins ${(p.errorRateMargin * 100).toFixed(2)} % errors and ${p.p99MarginMs} ms p99, setback to ${p.setback === 'zero' ? '0 %' : 'the previous step'}${server ? `; metrics on http://${args.metricsHost}:${args.metricsPort}/metrics` : ''}`,
  );
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // A line when a context's verdict changes or the guard acts; quiet otherwise.
  const last = new Map<string, string>();
  try {
    while (!stop.signal.aborted) {
      for (const c of await round()) {
        const line = describeCheck(c);
        const kind = c.action ? `${c.verdict.kind}:acted` : c.verdict.kind;
        if (last.get(c.context) !== kind || c.action) io.out(`${timestamp(new Date())} ${line}`);
        last.set(c.context, kind);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, args.intervalSeconds * 1000);
        stop.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    server?.close();
  }
  io.out('guard stopped');
}
