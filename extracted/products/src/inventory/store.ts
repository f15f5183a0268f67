import type { Knex } from 'knex';
import { PRODUCTS_TABLE } from '../products/store.ts';

export const RESERVATIONS_TABLE = 'inventory_reservations';

export type ReservationStatus = 'held' | 'released' | 'returned';

export interface ItemRequest {
  productId: number;
  quantity: number;
}

/** A line as recorded: held and released reservations carry the price they were taken at. */
export interface ReservationItem extends ItemRequest {
  unitPriceCents?: number;
}

export interface Reservation {
  key: string;
  status: ReservationStatus;
  items: ReservationItem[];
}

/** The `inventory_reservations` table (migrations/src/products/001_products_schema.ts). */
interface ReservationRow {
  key: string;
  status: ReservationStatus;
  items: ReservationItem[];
  created_at: Date;
  updated_at: Date;
}

/** A change to one product's stock: negative takes units, positive puts them back. */
export interface StockDelta {
  productId: number;
  delta: number;
}

export interface StockRow {
  id: number;
  price_cents: number;
  stock: number;
}

function toReservation(row: Pick<ReservationRow, 'key' | 'status' | 'items'>): Reservation {
  return { key: row.key, status: row.status, items: row.items };
}

/** Inventory queries, bound to the pool or to one transaction. */
export class InventoryStore {
  readonly #db: Knex;
  constructor(db: Knex) {
    this.#db = db;
  }

  /** Runs `fn` in one transaction, with a store bound to it. */
  transaction<T>(fn: (tx: InventoryStore) => Promise<T>): Promise<T> {
    return this.#db.transaction((trx) => fn(new InventoryStore(trx)));
  }

  /**
   * Inserts the key's row unless the key exists; true when this call made it.
   * The primary key serialises everything done under one key: a second
   * transaction claiming the same key waits here until the first commits
   * (and then finds the row) or rolls back (and then makes it itself).
   */
  async claim(key: string, status: ReservationStatus, items: readonly ReservationItem[]): Promise<boolean> {
    const rows = await this.#db(RESERVATIONS_TABLE)
      .insert({ key, status, items: JSON.stringify(items) })
      .onConflict('key')
      .ignore()
      .returning('key');
    return rows.length > 0;
  }

  /** The key's row, locked until the transaction ends. */
  async findForUpdate(key: string): Promise<Reservation | undefined> {
    const row = (await this.#db(RESERVATIONS_TABLE).where({ key }).first('key', 'status', 'items').forUpdate()) as
      | ReservationRow
      | undefined;
    return row ? toReservation(row) : undefined;
  }

  async find(key: string): Promise<Reservation | undefined> {
    const row = (await this.#db(RESERVATIONS_TABLE).where({ key }).first('key', 'status', 'items')) as
      | ReservationRow
      | undefined;
    return row ? toReservation(row) : undefined;
  }

  async save(reservation: Reservation): Promise<Reservation> {
    const [row] = await this.#db(RESERVATIONS_TABLE)
      .where({ key: reservation.key })
      .update({ status: reservation.status, items: JSON.stringify(reservation.items), updated_at: this.#db.fn.now() })
      .returning(['key', 'status', 'items']);
    return toReservation(row as ReservationRow);
  }

  /**
   * Locks the products' rows until the transaction ends. Locking in id order
   * (as ShopCo's orders do) means two requests for the same products never deadlock.
   */
  async lockProducts(ids: readonly number[]): Promise<StockRow[]> {
    return this.#db(PRODUCTS_TABLE)
      .select<StockRow[]>('id', 'price_cents', 'stock')
      .whereIn('id', [...ids])
      .orderBy('id')
      .forUpdate();
  }

  /** Adds each delta to its product's stock, in one statement. The rows must be locked already. */
  async adjustStock(deltas: readonly StockDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    await this.#db.raw(
      `UPDATE products SET stock = products.stock + d.delta, updated_at = now()
       FROM jsonb_to_recordset(?::jsonb) AS d("productId" int4, delta int4)
       WHERE products.id = d."productId"`,
      [JSON.stringify(deltas)],
    );
  }
}
