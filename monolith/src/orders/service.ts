import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import {
  DuplicateOrderItem,
  InsufficientStock,
  InvalidTransition,
  OrderNotFound,
  OrderTotalTooLarge,
  ProductNotFound,
  UserNotFound,
} from '../errors.ts';
import { type InventoryClient, mayHaveHappened } from '../inventory/client.ts';
import { LOCAL_STOCK, type StockOwnership } from '../inventory/ownership.ts';
import { dollarsToCents } from '../money.ts';
import { MAX_PAYABLE_CENTS } from '../payments/limits.ts';
import { canTransition, type OrderStatus } from './status.ts';
import type { Order, OrderItem, OrderStore } from './store.ts';

export interface ItemRequest {
  productId: number;
  quantity: number;
}

/** Where stock lives and how to reach it once it moved; ShopCo alone: always local. */
export interface StockDeps {
  ownership: StockOwnership;
  /** Required when `ownership` can say "service". */
  inventory?: InventoryClient;
  log?: FastifyBaseLogger;
}

export class OrderService {
  readonly #store: OrderStore;
  readonly #stock: StockOwnership;
  readonly #inventory: InventoryClient | undefined;
  readonly #log: FastifyBaseLogger | undefined;

  constructor(store: OrderStore, stock: StockDeps = { ownership: LOCAL_STOCK }) {
    this.#store = store;
    this.#stock = stock.ownership;
    this.#inventory = stock.inventory;
    this.#log = stock.log;
  }

  /**
   * Places an order, taking its stock from whoever owns stock now (ADR 0013).
   * ShopCo's own stock: it checks the user, the products and their stock,
   * takes the stock and writes the order in ONE transaction, with the
   * products' rows locked, so concurrent orders can never sell the same unit
   * twice. The products service's stock: it reserves the items there under a
   * new key (the service locks and checks the same way), then writes the
   * order with that key; if the order cannot be written, the reservation is
   * released. Prices are today's prices, from whichever side owns products.
   */
  async place(userId: number, items: readonly ItemRequest[]): Promise<Order> {
    const seen = new Set<number>();
    for (const { productId } of items) {
      if (seen.has(productId)) throw new DuplicateOrderItem(String(productId));
      seen.add(productId);
    }
    const ticket = await this.#stock.enter();
    try {
      return ticket.owner === 'service'
        ? await this.#placeWithService(userId, items)
        : await this.#placeLocally(userId, items, seen);
    } finally {
      ticket.done();
    }
  }

  #placeLocally(userId: number, items: readonly ItemRequest[], ids: ReadonlySet<number>): Promise<Order> {
    return this.#store.transaction(async (tx) => {
      if (!(await tx.userExists(userId))) throw new UserNotFound(String(userId));
      const rows = new Map((await tx.lockProducts([...ids])).map((r) => [r.id, r]));
      const lines: OrderItem[] = [];
      for (const { productId, quantity } of items) {
        const row = rows.get(productId);
        if (!row) throw new ProductNotFound(String(productId));
        if (row.stock < quantity) throw new InsufficientStock(String(productId), String(quantity), String(row.stock));
        lines.push({ productId, quantity, unitPriceCents: dollarsToCents(row.price) });
      }
      assertPayable(lines);
      for (const line of lines) await tx.adjustStock(line.productId, -line.quantity);
      return tx.insertOrder(userId, lines, { source: 'monolith', key: null });
    });
  }

  async #placeWithService(userId: number, items: readonly ItemRequest[]): Promise<Order> {
    const inventory = this.#inventoryClient();
    if (!(await this.#store.userExists(userId))) throw new UserNotFound(String(userId));
    const key = `order-${randomUUID()}`;
    let lines: OrderItem[];
    try {
      lines = await inventory.reserve(key, items);
    } catch (err) {
      // Unanswered: the reserve may have happened. Releasing the key undoes it, or fences it off if it never arrived.
      if (mayHaveHappened(err)) await this.#releaseQuietly(key);
      throw err;
    }
    try {
      assertPayable(lines);
      return await this.#store.transaction((tx) => tx.insertOrder(userId, lines, { source: 'service', key }));
    } catch (err) {
      await this.#releaseQuietly(key);
      throw err;
    }
  }

  async #releaseQuietly(key: string): Promise<void> {
    try {
      await this.#inventoryClient().release(key);
    } catch (err) {
      // The stock stays reserved under this key until someone releases it; the log says which.
      this.#log?.error({ err, reservation: key }, 'could not release a stock reservation; release it by hand');
    }
  }

  #inventoryClient(): InventoryClient {
    if (!this.#inventory)
      throw new Error('stock is owned by the products service but no inventory client is configured');
    return this.#inventory;
  }

  async get(id: number): Promise<Order> {
    const order = await this.#store.findById(id);
    if (!order) throw new OrderNotFound(String(id));
    return order;
  }

  async listForUser(userId: number): Promise<{ items: Order[] }> {
    if (!(await this.#store.userExists(userId))) throw new UserNotFound(String(userId));
    return { items: await this.#store.listByUser(userId) };
  }

  /**
   * Moves an order along its lifecycle; cancelling a pending order puts its
   * stock back where stock lives now: into ShopCo's products, or, once the
   * products service owns stock, by releasing the order's reservation there
   * (or returning the units, for an order placed before the move). The order
   * row stays locked until the stock is back, so an order is never restocked
   * twice, and a failure to reach the service leaves the order as it was.
   */
  async changeStatus(id: number, to: OrderStatus): Promise<Order> {
    const ticket = to === 'cancelled' ? await this.#stock.enter() : null;
    try {
      return await this.#store.transaction(async (tx) => {
        const order = await tx.findById(id, { lock: true });
        if (!order) throw new OrderNotFound(String(id));
        if (!canTransition(order.status, to)) throw new InvalidTransition(String(id), order.status, to);
        if (to === 'cancelled') {
          if (ticket?.owner === 'service') {
            const taken = await tx.stockOf(id);
            if (taken?.source === 'service' && taken.key) await this.#inventoryClient().release(taken.key);
            else await this.#inventoryClient().returnStock(`order-${id}-cancelled`, order.items);
          } else {
            const sorted = [...order.items].sort((a, b) => a.productId - b.productId);
            await tx.lockProducts(sorted.map((i) => i.productId));
            for (const item of sorted) await tx.adjustStock(item.productId, item.quantity);
          }
        }
        await tx.setStatus(id, to);
        return { ...order, status: to };
      });
    } finally {
      ticket?.done();
    }
  }
}

function assertPayable(lines: readonly OrderItem[]): void {
  const totalCents = lines.reduce((sum, l) => sum + l.unitPriceCents * l.quantity, 0);
  if (totalCents > MAX_PAYABLE_CENTS) throw new OrderTotalTooLarge(String(totalCents), String(MAX_PAYABLE_CENTS));
}
