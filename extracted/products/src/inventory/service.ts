import {
  DuplicateOrderItem,
  InsufficientStock,
  InventoryKeyReused,
  ProductNotFound,
  ReservationNotFound,
  ReservationReleased,
} from '../errors.ts';
import type { InventoryStore, ItemRequest, Reservation, ReservationItem, StockDelta } from './store.ts';

/** What a write answered, and whether this call made it (201) or found it made (200). */
export interface InventoryOutcome {
  created: boolean;
  reservation: Reservation;
}

function assertOneLinePerProduct(items: readonly ItemRequest[]): void {
  const seen = new Set<number>();
  for (const { productId } of items) {
    if (seen.has(productId)) throw new DuplicateOrderItem(String(productId));
    seen.add(productId);
  }
}

/** The same products and quantities, in any order (prices are not part of a request). */
export function sameItems(a: readonly ItemRequest[], b: readonly ItemRequest[]): boolean {
  if (a.length !== b.length) return false;
  const quantities = new Map(a.map((i) => [i.productId, i.quantity]));
  return b.every((i) => quantities.get(i.productId) === i.quantity);
}

function byProductId<T extends { productId: number }>(items: readonly T[]): T[] {
  return [...items].sort((x, y) => x.productId - y.productId);
}

/**
 * The inventory saga's participant. ShopCo's orders and checkout reserve stock
 * under an idempotency key, then release it to compensate (a cancelled or
 * declined order, or a reserve whose answer never came). Every operation is
 * one transaction that first claims or locks the key's row, so retries and
 * concurrent duplicates under one key act once, and then locks the products'
 * rows in id order, so stock is read and changed with nobody else in between.
 */
export class InventoryService {
  readonly #store: InventoryStore;
  constructor(store: InventoryStore) {
    this.#store = store;
  }

  async reserve(key: string, items: readonly ItemRequest[]): Promise<InventoryOutcome> {
    assertOneLinePerProduct(items);
    return this.#store.transaction(async (tx) => {
      if (!(await tx.claim(key, 'held', []))) {
        const existing = await this.#existing(tx, key);
        if (existing.status === 'held') {
          if (sameItems(existing.items, items)) return { created: false, reservation: existing };
          throw new InventoryKeyReused(key, 'a reservation of other items');
        }
        // Released before this reserve arrived (its compensation overtook it): never made.
        throw new ReservationReleased(key, existing.status);
      }
      const rows = new Map((await tx.lockProducts(items.map((i) => i.productId))).map((r) => [r.id, r]));
      const lines: ReservationItem[] = [];
      // Checked in request order, as ShopCo's orders do, so the first bad line is the one named.
      for (const { productId, quantity } of items) {
        const row = rows.get(productId);
        if (!row) throw new ProductNotFound(String(productId));
        if (row.stock < quantity) throw new InsufficientStock(String(productId), String(quantity), String(row.stock));
        lines.push({ productId, quantity, unitPriceCents: row.price_cents });
      }
      // A throw above rolls the claim back too: a refused reserve leaves no trace and its key stays free.
      await tx.adjustStock(byProductId(lines).map((l) => ({ productId: l.productId, delta: -l.quantity })));
      return { created: true, reservation: await tx.save({ key, status: 'held', items: lines }) };
    });
  }

  /**
   * Puts a held reservation's stock back. Releasing twice is harmless, and
   * releasing a key never reserved records it as released, so that a reserve
   * still on its way under that key is refused when it arrives.
   */
  async release(key: string): Promise<Reservation> {
    return this.#store.transaction(async (tx) => {
      if (await tx.claim(key, 'released', [])) return { key, status: 'released', items: [] };
      const existing = await this.#existing(tx, key);
      if (existing.status === 'released') return existing;
      if (existing.status === 'returned') throw new ReservationReleased(key, 'returned');
      const sorted = byProductId(existing.items);
      await tx.lockProducts(sorted.map((i) => i.productId));
      await tx.adjustStock(sorted.map((i) => ({ productId: i.productId, delta: i.quantity })));
      return tx.save({ ...existing, status: 'released' });
    });
  }

  /**
   * Puts back stock taken outside any reservation: orders whose stock ShopCo
   * took itself, before the service owned inventory, and cancelled since.
   * Idempotent by key: a repeat finds the return made and changes nothing.
   */
  async returnStock(key: string, items: readonly ItemRequest[]): Promise<InventoryOutcome> {
    assertOneLinePerProduct(items);
    const lines: ReservationItem[] = items.map(({ productId, quantity }) => ({ productId, quantity }));
    return this.#store.transaction(async (tx) => {
      if (!(await tx.claim(key, 'returned', lines))) {
        const existing = await this.#existing(tx, key);
        if (existing.status !== 'returned') throw new InventoryKeyReused(key, 'a reservation');
        if (!sameItems(existing.items, items)) throw new InventoryKeyReused(key, 'a return of other items');
        return { created: false, reservation: existing };
      }
      const sorted = byProductId(lines);
      const found = new Set((await tx.lockProducts(sorted.map((i) => i.productId))).map((r) => r.id));
      const unknown = lines.find((l) => !found.has(l.productId));
      if (unknown) throw new ProductNotFound(String(unknown.productId));
      await tx.adjustStock(sorted.map((i): StockDelta => ({ productId: i.productId, delta: i.quantity })));
      return { created: true, reservation: { key, status: 'returned', items: lines } };
    });
  }

  async get(key: string): Promise<Reservation> {
    const reservation = await this.#store.find(key);
    if (!reservation) throw new ReservationNotFound(key);
    return reservation;
  }

  /** The row a failed claim ran into: it exists, since rows are never deleted. */
  async #existing(tx: InventoryStore, key: string): Promise<Reservation> {
    const existing = await tx.findForUpdate(key);
    if (!existing) throw new Error(`inventory key ${key} conflicted but cannot be read`);
    return existing;
  }
}
