import type { FlagSource } from '@strangler/flags';
import { type FenceMember, type Side, type TrafficRecorder, WritesHeldError } from '@strangler/foundation';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Decision, decide, pinsReads } from './decide.ts';
import type { NoiseRule } from './diff.ts';
import { AmbiguousPath, UpstreamBroken, UpstreamTimeout, UpstreamUnavailable, WritesHeld } from './errors.ts';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import {
  type IdentityResolver,
  readCookie,
  recentWriteCookie,
  recentWriteCookieName,
  sessionCookie,
} from './identity.ts';
import type { RouterMetrics } from './metrics.ts';
import { normalisePath } from './path.ts';
import type { RouteTable } from './routes.ts';
import { answerOf, type ShadowRecorder } from './shadow.ts';
import { type Upstream, UpstreamError, type UpstreamRequest, type UpstreamResponse } from './upstream.ts';

/** A routed request's context, and whether it reads, for the shared traffic counts; null when unrouted. */
type Counted = { context: string; read: boolean } | null;

export interface ProxyDeps {
  table: RouteTable;
  flags: FlagSource;
  identity: IdentityResolver;
  monolith: Upstream;
  /** The extracted service of each context that has one. */
  services: ReadonlyMap<string, Upstream>;
  metrics: RouterMetrics;
  shadow: ShadowRecorder;
  shadowMaxInFlight: number;
  noise: Readonly<Record<string, NoiseRule>>;
  /** Shares per-context traffic and shadow counts with other processes (Redis); absent without REDIS_URL. */
  traffic?: TrafficRecorder | undefined;
  /** Holds writes while a cutover moves their owner (docs/adr/0012); absent without REDIS_URL. */
  fence?: FenceMember | undefined;
  /** How long a write that timed out keeps counting as in flight for the fence. */
  writeTimeoutGraceMs: number;
  /** How long a client's reads follow its write to the write owner; 0: never. */
  readYourWritesSeconds: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    decision?: Decision;
    routeKey?: string;
  }
}

/** The client's answer to a failed attempt: a 503 only when nothing was sent, else an answer that says the outcome is unknown. */
function failureFor(err: UpstreamError, what: string): Error {
  if (err.kind === 'timeout') return new UpstreamTimeout(what);
  if (err.kind === 'broken') return new UpstreamBroken(what);
  return new UpstreamUnavailable(what);
}

/**
 * The proxy carries out the decision and nothing more: one attempt to the
 * chosen upstream; for an idempotent read the service failed, one attempt to
 * the monolith; for a shadowed read, after the client has its answer, one
 * mirrored attempt to the service whose answer is only compared.
 */
export function registerProxy(app: FastifyInstance, deps: ProxyDeps): void {
  const serviceNames = new Set(deps.services.keys());
  let shadowInFlight = 0;

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const check = normalisePath(request.raw.url ?? '/');
    if (!check.ok) throw new AmbiguousPath(check.reason);
    const match = deps.table.match(request.method, check.segments);
    // A write is admitted by the fence before it is decided: a write held by a
    // cutover is decided with the flags of the moment it is released.
    const fenced = match?.rule.access === 'write' && deps.fence?.covers(match.rule.context) === true;
    const release = fenced && match ? await admitWrite(match.rule.context) : null;
    let timedOut = false;
    try {
      await dispatch(request, reply, check, match);
    } catch (err) {
      timedOut = (err as { code?: string }).code === 'ROUTER_UPSTREAM_TIMEOUT';
      throw err;
    } finally {
      // A write that timed out may still commit upstream: it stays "in flight"
      // a while longer, so a cutover cannot drain before it lands.
      if (release && timedOut) setTimeout(release, deps.writeTimeoutGraceMs).unref();
      else release?.();
    }
  };

  async function admitWrite(context: string): Promise<() => void> {
    const fence = deps.fence as FenceMember;
    const held = fence.isHeld(context);
    try {
      const release = await fence.admit(context);
      if (held) deps.metrics.writesHeld.inc({ context, result: 'released' });
      return release;
    } catch (err) {
      if (err instanceof WritesHeldError) {
        deps.metrics.writesHeld.inc({ context, result: 'refused' });
        if (err.isolated)
          app.log.warn({ context }, 'write refused: this router cannot reach Redis to check for a cutover');
        throw new WritesHeld(
          context,
          err.isolated
            ? 'this router cannot reach Redis to check whether a write cutover is in progress'
            : 'a write cutover is in progress',
        );
      }
      throw err;
    }
  }

  async function dispatch(
    request: FastifyRequest,
    reply: FastifyReply,
    check: Extract<ReturnType<typeof normalisePath>, { ok: true }>,
    match: ReturnType<RouteTable['match']>,
  ): Promise<void> {
    const stickyId = () => {
      const who = deps.identity(request.headers.authorization, request.headers.cookie);
      if (who.newSession) reply.header('set-cookie', sessionCookie(who.newSession));
      return who.stickyId;
    };
    const flags = deps.flags.snapshot();
    const recentWrite =
      deps.readYourWritesSeconds > 0 &&
      match !== null &&
      match.rule.access === 'read' &&
      readCookie(request.headers.cookie, recentWriteCookieName(match.rule.context)) === '1';
    const decision = decide({
      match,
      method: request.method,
      flags,
      services: serviceNames,
      stickyId,
      shadowSample: Math.random() * 100,
      recentWrite,
    });
    request.decision = decision;
    request.routeKey = match?.key ?? 'unrouted';
    // What the shared traffic counts file this request under: the guarded rollout compares reads side by side.
    const counted: Counted = match ? { context: match.rule.context, read: match.rule.access === 'read' } : null;

    const outgoing: UpstreamRequest = {
      method: request.method,
      path: check.path + check.query,
      headers: upstreamRequestHeaders(request.headers, {
        requestId: request.id,
        remoteAddress: request.ip,
        host: request.headers.host,
        protocol: request.protocol,
      }),
      body: Buffer.isBuffer(request.body) ? request.body : null,
    };

    const { res, servedBy } =
      decision.target === 'service'
        ? await sendToService(deps.services.get(decision.context as string) as Upstream, outgoing, decision, counted)
        : {
            res: await sendOrFail(deps.monolith, outgoing, 'monolith', counted),
            servedBy: 'monolith' as const,
          };

    reply.status(res.status).headers(clientResponseHeaders(res.headers));
    reply.header('x-strangler-target', servedBy);
    if (
      match?.rule.access === 'write' &&
      res.status < 300 &&
      deps.readYourWritesSeconds > 0 &&
      pinsReads(flags, serviceNames, match.rule.context)
    ) {
      reply.header('set-cookie', recentWriteCookie(match.rule.context, deps.readYourWritesSeconds));
    }
    await reply.send(res.body);

    if (decision.shadow && match) mirror(match.key, decision.context as string, outgoing, request.id, res);
  }

  /** One attempt, counted for the context's side in the shared traffic stats. */
  async function attempt(upstream: Upstream, outgoing: UpstreamRequest, counted: Counted, side: Side) {
    const started = performance.now();
    try {
      const res = await upstream.send(outgoing);
      if (counted) {
        deps.traffic?.request(counted.context, side, res.status >= 500, performance.now() - started, counted.read);
      }
      return res;
    } catch (err) {
      if (counted) deps.traffic?.request(counted.context, side, true, performance.now() - started, counted.read);
      throw err;
    }
  }

  async function sendOrFail(
    upstream: Upstream,
    outgoing: UpstreamRequest,
    what: string,
    counted: Counted,
  ): Promise<UpstreamResponse> {
    try {
      return await attempt(upstream, outgoing, counted, 'monolith');
    } catch (err) {
      if (err instanceof UpstreamError) throw failureFor(err, what);
      throw err;
    }
  }

  async function sendToService(
    service: Upstream,
    outgoing: UpstreamRequest,
    decision: Decision,
    counted: Counted,
  ): Promise<{ res: UpstreamResponse; servedBy: 'service' | 'monolith' }> {
    const what = `${decision.context} service`;
    let reason: string;
    try {
      const res = await attempt(service, outgoing, counted, 'service');
      if (res.status < 500 || !decision.fallback) return { res, servedBy: 'service' };
      reason = `status-${res.status}`;
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      // A write (or any non-idempotent request) is never sent anywhere else.
      if (!decision.fallback) throw failureFor(err, what);
      reason = err.kind;
    }
    deps.metrics.fallbacks.inc({ context: decision.context ?? 'none', reason });
    return { res: await sendOrFail(deps.monolith, outgoing, 'monolith', counted), servedBy: 'monolith' };
  }

  function mirror(
    route: string,
    context: string,
    outgoing: UpstreamRequest,
    requestId: string,
    primary: UpstreamResponse,
  ) {
    const service = deps.services.get(context);
    if (!service) return;
    if (shadowInFlight >= deps.shadowMaxInFlight) {
      deps.shadow.recordSkipped(route);
      deps.metrics.shadow.inc({ route, result: 'skipped' });
      return;
    }
    shadowInFlight++;
    const monolithAnswer = answerOf(primary.status, primary.headers['content-type'], primary.body);
    const shadowRequest = { ...outgoing, headers: { ...outgoing.headers, 'x-strangler-shadow': '1' } };
    service
      .send(shadowRequest)
      .then(
        (res) => {
          const result = deps.shadow.compare(
            route,
            requestId,
            monolithAnswer,
            answerOf(res.status, res.headers['content-type'], res.body),
            deps.noise[route],
          );
          deps.metrics.shadow.inc({ route, result: result.match ? 'match' : 'mismatch' });
          deps.traffic?.shadow(context, result.match ? 'match' : 'mismatch');
        },
        (err: unknown) => {
          deps.shadow.recordError(route, requestId, monolithAnswer, (err as Error).message);
          deps.metrics.shadow.inc({ route, result: 'error' });
          deps.traffic?.shadow(context, 'error');
        },
      )
      .finally(() => {
        shadowInFlight--;
      });
  }

  // The router's access log: one line per request, with the decision that routed it.
  app.addHook('onResponse', async (request, reply) => {
    if (!request.routeKey) return;
    const header = reply.getHeader('x-strangler-target');
    const target = typeof header === 'string' ? header : 'router';
    deps.metrics.requests.observe(
      { route: request.routeKey, target, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    request.log.info(
      {
        method: request.method,
        route: request.routeKey,
        status: reply.statusCode,
        target,
        reason: request.decision?.reason,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request',
    );
  });

  app.route({ method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url: '/*', handler });
  app.route({ method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url: '/', handler });
}
