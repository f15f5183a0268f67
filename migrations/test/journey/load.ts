import { type Call, client, errorCode, type JsonResponse } from '@strangler/foundation/testing';

/**
 * The journey's load generator: a few virtual shoppers, each looping over
 * ShopCo's users routes through the routers (registrations, profile updates,
 * logins, reads of their own account) and placing orders in the monolith that
 * reference their user, and visitors that only read. Each keeps its cookies,
 * as a browser does.
 * It records every answer: what was acknowledged (2xx), so the end of the
 * test can check each write is in every database still in use, and every
 * failure by kind.
 */

export interface AckedUser {
  id: number;
  email: string;
  /** The name of the last update that got a 2xx. */
  name: string;
  /** When the registration was acknowledged (ms since epoch). */
  at: number;
}

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
  users: Map<number, AckedUser>;
  orders: number[];
  /** 2xx writes: registrations, updates, orders. */
  ackedWrites: number;
}

export interface LoadOptions {
  routers: readonly string[];
  /** Shoppers that write (register, update, order) and read their own account. */
  shoppers: number;
  /** Visitors that only read: other people's profiles, and logins of accounts made a while ago. */
  visitors: number;
  /** Pause between two requests of one shopper. */
  pauseMs: number;
  productIds: readonly number[];
  /** Users that exist before the load starts (read by everyone). */
  seededUserIds: readonly number[];
}

const PASSWORD = 'correct horse battery';

export class LoadGenerator {
  readonly report: LoadReport = {
    requests: 0,
    byStatus: {},
    failures: [],
    users: new Map(),
    orders: [],
    ackedWrites: 0,
  };
  readonly #opts: LoadOptions;
  readonly #calls: Call[];
  #stopped = false;
  #loops: Promise<void>[] = [];
  #counter = 0;

  constructor(opts: LoadOptions) {
    this.#opts = opts;
    this.#calls = opts.routers.map((url) => client(url));
  }

  start(): void {
    for (let i = 0; i < this.#opts.shoppers; i++) this.#loops.push(this.#shopper(i));
    for (let i = 0; i < this.#opts.visitors; i++) this.#loops.push(this.#visitor(i));
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

  async #send(
    jar: Map<string, { value: string; expires: number }>,
    method: string,
    route: string,
    path: string,
    options: Parameters<Call>[2] = {},
  ): Promise<Awaited<ReturnType<Call>> | null> {
    const call = this.#calls[this.report.requests % this.#calls.length] as Call;
    this.report.requests++;
    let res: Awaited<ReturnType<Call>>;
    try {
      // Each shopper keeps its cookies, as a browser does (the router's session and read-your-writes cookies).
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

  async #shopper(n: number): Promise<void> {
    const pause = () => new Promise((r) => setTimeout(r, this.#opts.pauseMs));
    let mine: { id: number; email: string; token: string } | null = null;
    const jar = new Map<string, { value: string; expires: number }>();
    let round = 0;
    while (!this.#stopped) {
      round++;
      if (mine === null || round % 12 === 0) {
        this.#counter++;
        const email = `journey.${process.pid}.${n}.${this.#counter}@example.test`;
        const name = `Shopper ${n} No${this.#counter}`;
        const registered = await this.#send(jar, 'POST', 'register', '/api/users/register', {
          body: { email, password: PASSWORD, name },
        });
        if (registered?.status === 201) {
          const id = (registered.body as { id: number }).id;
          this.report.users.set(id, { id, email, name, at: Date.now() });
          this.report.ackedWrites++;
          const login = await this.#send(jar, 'POST', 'login', '/api/users/login', {
            body: { email, password: PASSWORD },
          });
          if (login?.status === 200) mine = { id, email, token: (login.body as { token: string }).token };
        }
      } else if (round % 3 === 0) {
        const name = `Shopper ${n} Rev${round}`;
        const updated = await this.#send(jar, 'PUT', 'update', `/api/users/${mine.id}`, {
          token: mine.token,
          body: { name },
        });
        if (updated?.status === 200) {
          const user = this.report.users.get(mine.id);
          if (user) user.name = name;
          this.report.ackedWrites++;
        }
      } else if (round % 5 === 0) {
        // Orders stay in the monolith and reference users: its copy of users must be current.
        const ordered = await this.#send(jar, 'POST', 'order', '/api/orders', {
          token: mine.token,
          body: {
            userId: mine.id,
            items: [{ productId: this.#opts.productIds[round % this.#opts.productIds.length], quantity: 1 }],
          },
        });
        if (ordered?.status === 201) {
          this.report.orders.push((ordered.body as { id: number }).id);
          this.report.ackedWrites++;
        }
      } else if (round % 2 === 0) {
        await this.#send(jar, 'POST', 'login', '/api/users/login', { body: { email: mine.email, password: PASSWORD } });
      } else {
        await this.#send(jar, 'GET', 'read', `/api/users/${mine.id}`);
      }
      await pause();
    }
  }

  /** A stream of visitors: a new one (new cookies, so a new rollout bucket) every 10 requests. */
  async #visitor(n: number): Promise<void> {
    let jar = new Map<string, { value: string; expires: number }>();
    let round = 0;
    while (!this.#stopped) {
      round++;
      if (round % 10 === 0) jar = new Map();
      // Accounts made more than a minute ago: the visitor never raced their registration.
      const settled = [...this.report.users.values()].filter((u) => u.at < Date.now() - 60_000);
      const account = settled[(round * 13 + n) % Math.max(settled.length, 1)];
      if (round % 3 === 0 && account) {
        await this.#send(jar, 'POST', 'login', '/api/users/login', {
          body: { email: account.email, password: PASSWORD },
        });
      } else {
        const seeded = this.#opts.seededUserIds;
        await this.#send(jar, 'GET', 'read', `/api/users/${seeded[(round * 7 + n) % seeded.length]}`);
      }
      await new Promise((r) => setTimeout(r, this.#opts.pauseMs));
    }
  }
}
