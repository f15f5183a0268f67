import { type Call, client, errorCode, type JsonResponse } from '@strangler/foundation/testing';

/**
 * The journeys' load generator: virtual clients (a context's workload decides
 * what each one does) sending requests through the routers in turn, each with
 * its own cookie jar, as a browser keeps one. It records every answer: the
 * count by status, and every failure by kind, so the end of a journey can
 * check each one; the workload records what was acknowledged.
 */

export interface Failure {
  at: number;
  method: string;
  route: string;
  status: number;
  code: string | undefined;
}

export interface LoadReport {
  requests: number;
  byStatus: Record<string, number>;
  failures: Failure[];
  /** 2xx writes, as the workload counts them. */
  ackedWrites: number;
}

export type Answer = Awaited<ReturnType<Call>>;

/** One virtual client's way to send: through the next router, with its cookies. */
export type Send = (
  method: string,
  route: string,
  path: string,
  options?: Parameters<Call>[2],
) => Promise<Answer | null>;

/** One virtual client: runs until `stopped()` says so; `newSession()` forgets its cookies (a new visitor). */
export type Actor = (tools: {
  send: Send;
  newSession(): void;
  stopped(): boolean;
  pause(): Promise<void>;
}) => Promise<void>;

export class LoadGenerator {
  readonly report: LoadReport = { requests: 0, byStatus: {}, failures: [], ackedWrites: 0 };
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
      this.#loops.push(
        actor({
          send: (method, route, path, options) => this.#send(jar, method, route, path, options),
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
    method: string,
    route: string,
    path: string,
    options: Parameters<Call>[2] = {},
  ): Promise<Answer | null> {
    const call = this.#calls[this.report.requests % this.#calls.length] as Call;
    this.report.requests++;
    let res: Answer;
    try {
      // The router's session and read-your-writes cookies, kept as a browser does.
      const now = Date.now();
      const cookie = [...jar]
        .filter(([, c]) => c.expires > now)
        .map(([k, c]) => `${k}=${c.value}`)
        .join('; ');
      res = await call(method, path, { ...options, headers: { ...options.headers, ...(cookie ? { cookie } : {}) } });
      for (const set of res.headers.getSetCookie()) {
        const [pair = '', ...attributes] = set.split(';');
        const eq = pair.indexOf('=');
        if (eq <= 0) continue;
        const maxAge = attributes.map((a) => /^\s*max-age=(\d+)\s*$/i.exec(a)?.[1]).find((m) => m !== undefined);
        const expires = maxAge === undefined ? Number.POSITIVE_INFINITY : Date.now() + Number(maxAge) * 1000;
        jar.set(pair.slice(0, eq).trim(), { value: pair.slice(eq + 1).trim(), expires });
      }
    } catch (err) {
      this.report.failures.push({ at: Date.now(), method, route, status: 0, code: (err as Error).message });
      this.report.byStatus.network = (this.report.byStatus.network ?? 0) + 1;
      return null;
    }
    const key = String(res.status);
    this.report.byStatus[key] = (this.report.byStatus[key] ?? 0) + 1;
    if (res.status >= 300) {
      this.report.failures.push({
        at: Date.now(),
        method,
        route,
        status: res.status,
        code: errorCode(res as JsonResponse),
      });
    }
    return res;
  }
}
