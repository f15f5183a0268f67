import {
  DuplicateOrderItem,
  InsufficientStock,
  InvalidTransition,
  OrderNotFound,
  OrderTotalTooLarge,
  ProductNotFound,
  UserNotFound,
} from '../errors.ts';
import { dollarsToCents } from '../money.ts';
import { MAX_PAYABLE_CENTS } from '../payments/limits.ts';
import { canTransition, type OrderStatus } from './status.ts';
import type { Order, OrderItem, OrderStore } from './store.ts';

export interface ItemRequest {
  productId: number;
  quantity: number;
}

export class OrderService {
  readonly #store: OrderStore;
  constructor(store: OrderStore) {
    this.#store = store;
  }

  /**
   * Checks the user, the products and their stock, takes the stock and writes
   * the order in ONE transaction, with the products' rows locked: concurrent
   * orders can never sell the same unit twice. Prices are today's prices.
   */
  async place(userId: number, items: readonly ItemRequest[]): Promise<Order> {
    const seen = new Set<number>();
    for (const { productId } of items) {
      if (seen.has(productId)) throw new DuplicateOrderItem(String(productId));
      seen.add(productId);
    }
    return this.#store.transaction(async (tx) => {
      if (!(await tx.userExists(userId))) throw new UserNotFound(String(userId));
      const rows = new Map((await tx.lockProducts([...seen])).map((r) => [r.id, r]));
      const lines: OrderItem[] = [];
      for (const { productId, quantity } of items) {
        const row = rows.get(productId);
        if (!row) throw new ProductNotFound(String(productId));
        if (row.stock < quantity) throw new InsufficientStock(String(productId), String(quantity), String(row.stock));
        lines.push({ productId, quantity, unitPriceCents: dollarsToCents(row.price) });
      }
      const totalCents = lines.reduce((sum, l) => sum + l.unitPriceCents * l.quantity, 0);
      if (totalCents > MAX_PAYABLE_CENTS) throw new OrderTotalTooLarge(String(totalCents), String(MAX_PAYABLE_CENTS));
      for (const line of lines) await tx.adjustStock(line.productId, -line.quantity);
      return tx.insertOrder(userId, lines);
    });
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

  /** Moves an order along its lifecycle; cancelling a pending order puts its stock back. */
  async changeStatus(id: number, to: OrderStatus): Promise<Order> {
    return this.#store.transaction(async (tx) => {
      const order = await tx.findById(id, { lock: true });
      if (!order) throw new OrderNotFound(String(id));
      if (!canTransition(order.status, to)) throw new InvalidTransition(String(id), order.status, to);
      if (to === 'cancelled') {
        const sorted = [...order.items].sort((a, b) => a.productId - b.productId);
        await tx.lockProducts(sorted.map((i) => i.productId));
        for (const item of sorted) await tx.adjustStock(item.productId, item.quantity);
      }
      await tx.setStatus(id, to);
      return { ...order, status: to };
    });
  }
}
