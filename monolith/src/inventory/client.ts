import { setTimeout as sleep } from 'node:timers/promises';
import { InventoryUnavailable } from '../errors.ts';
import type { OrderItem } from '../orders/store.ts';

/**
 * The products service's inventory API, as ShopCo's orders use it once
 * products owns stock. Every call carries a key that makes it idempotent on
 * the service's side (a retried reserve reserves once, a release or return
 * happens once), so a call that timed out is simply sent again.
 */
export interface InventoryClient {
  /** Takes the items' stock under `key`; the lines carry the service's prices. */
  reserve(key: string, items: readonly StockLine[]): Promise<OrderItem[]>;
  /** Gives back what `key` reserved; a key never reserved is fenced off for good. */
  release(key: string): Promise<void>;
  /** Gives back stock ShopCo took itself before products owned stock (a cancelled older order). */
  returnStock(key: string, items: readonly StockLine[]): Promise<void>;
}

export interface StockLine {
  productId: number;
  quantity: number;
}

export interface HttpInventoryOptions {
  baseUrl: string;
  token: string;
  /** Per attempt. */
  timeoutMs: number;
  /** Attempts per call, for timeouts, connection failures and 5xx answers. */
  attempts?: number;
  fetch?: typeof fetch;
}

/** A refusal of the service (4xx) that is the client's answer as it stands: not enough stock, unknown product. */
class Refusal extends Error {
  readonly code: string;
  readonly statusCode: number;
  constructor(code: string, statusCode: number, message: string) {
    super(message);
    this.name = 'InventoryRefusal';
    this.code = code;
    this.statusCode = statusCode;
  }
}

/** Refusals passed on to ShopCo's client unchanged: the same codes the monolith itself answers. */
const PASSED_ON = new Set(['ORDERS_INSUFFICIENT_STOCK', 'PRODUCTS_NOT_FOUND', 'ORDERS_DUPLICATE_ITEM']);

export class HttpInventoryClient implements InventoryClient {
  readonly #opts: Required<HttpInventoryOptions>;

  constructor(opts: HttpInventoryOptions) {
    this.#opts = { attempts: 3, fetch: globalThis.fetch, ...opts };
  }

  async reserve(key: string, items: readonly StockLine[]): Promise<OrderItem[]> {
    const lines = items.map(({ productId, quantity }) => ({ productId, quantity }));
    const body = (await this.#call('POST', '/internal/inventory/reservations', { key, items: lines })) as {
      items: OrderItem[];
    };
    const byProduct = new Map(body.items.map((i) => [i.productId, i]));
    return items.map(({ productId, quantity }) => {
      const line = byProduct.get(productId);
      if (!line || line.quantity !== quantity || !Number.isSafeInteger(line.unitPriceCents)) {
        throw new InventoryUnavailable(`the reservation ${key} came back without product ${productId} × ${quantity}`);
      }
      return { productId, quantity, unitPriceCents: line.unitPriceCents };
    });
  }

  async release(key: string): Promise<void> {
    await this.#call('POST', `/internal/inventory/reservations/${encodeURIComponent(key)}/release`, undefined);
  }

  async returnStock(key: string, items: readonly StockLine[]): Promise<void> {
    const lines = items.map(({ productId, quantity }) => ({ productId, quantity }));
    await this.#call('POST', '/internal/inventory/returns', { key, items: lines });
  }

  async #call(method: string, path: string, body: unknown): Promise<unknown> {
    const { attempts, timeoutMs } = this.#opts;
    let last = 'no attempt made';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let res: Response;
      try {
        res = await this.#opts.fetch(new URL(path, this.#opts.baseUrl), {
          method,
          headers: {
            authorization: `Bearer ${this.#opts.token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        last = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message;
        await sleep(50 * attempt);
        continue;
      }
      const text = await res.text();
      const parsed = parseJson(text);
      if (res.ok) return parsed;
      const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      const code = typeof error?.code === 'string' ? error.code : `HTTP_${res.status}`;
      const message = typeof error?.message === 'string' ? error.message : text.slice(0, 200);
      if (res.status >= 500) {
        last = `${res.status} ${code}: ${message}`;
        await sleep(50 * attempt);
        continue;
      }
      if (PASSED_ON.has(code)) throw new Refusal(code, res.status, message);
      if (res.status === 401) {
        throw new InventoryUnavailable(
          'the products service refused the token; set INVENTORY_API_TOKEN to its INTERNAL_API_TOKEN',
        );
      }
      throw new InventoryUnavailable(`${method} ${path} was refused: ${res.status} ${code}: ${message}`);
    }
    throw new InventoryUnavailable(`the products service at ${this.#opts.baseUrl}: ${last}`);
  }
}

/** Whether a failed call may have been done by the service all the same (timed out, or no answer). */
export function mayHaveHappened(err: unknown): boolean {
  return err instanceof InventoryUnavailable;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
