import { type Call, client, errorCode, type JsonResponse } from '@strangler/foundation/testing';

/**
 * The journeys' load generator: virtual clients (a context's workload decides
 * what each one does) sending requests through the routers in turn, each with
 * its own cookie jar, as a browser keeps one. It records every answer: the
 * count by status, and every failure by kind, so the end of a journey can
 * check each one; the workload records what was acknowledged. A read that a
 * router cannot take (connection refused or broken) is sent to the next
 * router, as a load balancer does; a write never is.
 */

/**
 * How a request failed when no answer came: `refused` means the connection
 * was never made, so nothing was sent (safe to send again); `broken` means it
 * broke after the request may have gone out, so its outcome is unknown.
 */
export type NetworkFailure = 'refused' | 'broken';

export interface Failure {
  at: number;
  method: string;
  route: string;
  /** 0 when no answer came (see `network`). */
  status: number;
  /** The error code of the answer's body; for no answer, the socket's error code. */
  code: string | undefined;
  network?: NetworkFailure;
  /** From sending to the failure (the answer, or the socket's error). */
  ms: number;
}

/** One request's outcome, for timelines: when it was sent, and whether a server answered below 500. */
export interface Outcome {
  at: number;
  method: string;
  route: string;
  ok: boolean;
  /** Who answered, as the router says (`x-strangler-target`: monolith, service, router). */
  target?: string;
}

export interface LoadReport {
  requests: number;
  byStatus: Record<string, number>;
  failures: Failure[];
  /** 2xx writes, as the workload counts them. */
  ackedWrites: number;
  /** Idempotent requests a router could not take, sent again to the next router (as a load balancer does). */
  failedOver: number;
  outcomes: Outcome[];
}

export type Answer = Awaited<ReturnType<Call>>;

/** One virtual client's way to send: through the next router, with its cookies; null when no answer came. */
export type Send = (
  method: string,
  route: string,
  path: string,
  options?: Parameters<Call>[2],
) => Promise<Answer | null>;

/** One virtual client: runs until `stopped()` says so; `newSession()` forgets its cookies (a new visitor). */
export type Actor = (tools: {
  send: Send;
  /** Why this client's last request got no answer; undefined when it got one. */
  lastNetworkFailure(): NetworkFailure | undefined;
  newSession(): void;
  stopped(): boolean;
  pause(): Promise<void>;
}) => Promise<void>;

export class LoadGenerator {
  readonly report: LoadReport = {
    requests: 0,
    byStatus: {},
    failures: [],
    ackedWrites: 0,
    failedOver: 0,
    outcomes: [],
  };
  readonly #calls: Call[];
  readonly #pauseMs: number;
  #stopped = false;
  #loops: Promise<void>[] = [];

  constructor(opts: { routers: readonly string[]; pauseMs: number }) {
    this.#calls = opts.routers.map((url) => client(url));
    this.#pauseMs = opts.pauseMs;
  }

  start(actors: readonly Actor[]): void {
    for (const actor of actors) {
      let jar = new Map<string, { value: string; expires: number }>();
      const last: { network?: NetworkFailure | undefined } = {};
      this.#loops.push(
        actor({
          send: (method, route, path, options) => this.#send(jar, last, method, route, path, options),
          lastNetworkFailure: () => last.network,
          newSession: () => {
            jar = new Map();
          },
          stopped: () => this.#stopped,
          pause: () => new Promise((r) => setTimeout(r, this.#pauseMs)),
        }),
      );
    }
  }

  async stop(): Promise<LoadReport> {
    this.#stopped = true;
    await Promise.all(this.#loops);
    return this.report;
  }

  /** Requests answered so far; the test waits on it instead of sleeping. */
  get requests(): number {
    return this.report.requests;
  }

  /** Counts one acknowledged write. */
  acked(): void {
    this.report.ackedWrites++;
  }

  async #send(
    jar: Map<string, { value: string; expires: number }>,
    last: { network?: NetworkFailure | undefined },
    method: string,
    route: string,
    path: string,
    options: Parameters<Call>[2] = {},
  ): Promise<Answer | null> {
    const first = this.report.requests % this.#calls.length;
    this.report.requests++;
    const sentAt = Date.now();
    let res: Answer | undefined;
    // The router's session and read-your-writes cookies, kept as a browser does.
    const cookie = [...jar]
      .filter(([, c]) => c.expires > sentAt)
      .map(([k, c]) => `${k}=${c.value}`)
      .join('; ');
    const headers = { ...options.headers, ...(cookie ? { cookie } : {}) };
    // Like a load balancer: a read that no router took goes to the next one; a write is never sent twice.
    const idempotent = method === 'GET' || method === 'HEAD';
    const tries = idempotent ? this.#calls.length : 1;
    let failure: { code: string; network: NetworkFailure } | undefined;
    for (let i = 0; i < tries && res === undefined; i++) {
      if (i > 0) this.report.failedOver++;
      try {
        res = await (this.#calls[(first + i) % this.#calls.length] as Call)(method, path, { ...options, headers });
      } catch (err) {
        failure = networkFailureOf(err);
      }
    }
    last.network = res === undefined ? failure?.network : undefined;
    if (res === undefined) {
      const { code, network } = failure as { code: string; network: NetworkFailure };
      this.report.failures.push({ at: Date.now(), method, route, status: 0, code, network, ms: Date.now() - sentAt });
      this.report.byStatus.network = (this.report.byStatus.network ?? 0) + 1;
      this.report.outcomes.push({ at: sentAt, method, route, ok: false });
      return null;
    }
    for (const set of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = set.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const maxAge = attributes.map((a) => /^\s*max-age=(\d+)\s*$/i.exec(a)?.[1]).find((m) => m !== undefined);
      const expires = maxAge === undefined ? Number.POSITIVE_INFINITY : Date.now() + Number(maxAge) * 1000;
      jar.set(pair.slice(0, eq).trim(), { value: pair.slice(eq + 1).trim(), expires });
    }
    const key = String(res.status);
    this.report.byStatus[key] = (this.report.byStatus[key] ?? 0) + 1;
    const target = res.headers.get('x-strangler-target') ?? undefined;
    this.report.outcomes.push({ at: sentAt, method, route, ok: res.status < 500, ...(target ? { target } : {}) });
    if (res.status >= 300) {
      this.report.failures.push({
        at: Date.now(),
        method,
        route,
        status: res.status,
        code: errorCode(res as JsonResponse),
        ms: Date.now() - sentAt,
      });
    }
    return res;
  }
}

/** fetch's "fetch failed" carries the socket's error as its cause. */
function networkFailureOf(err: unknown): { code: string; network: NetworkFailure } {
  let cause: unknown = err;
  let code: string | undefined;
  for (let depth = 0; cause && depth < 4 && code === undefined; depth++) {
    code = (cause as { code?: string }).code;
    cause = (cause as { cause?: unknown }).cause;
  }
  const resolved = code ?? (err as Error).message;
  return { code: resolved, network: resolved === 'ECONNREFUSED' ? 'refused' : 'broken' };
}
