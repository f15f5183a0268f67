import type { Knex } from 'knex';
import { centsToDollars, dollarsToCents } from '../money.ts';
import type { OrderStatus } from './status.ts';

interface OrderRow {
  id: number;
  user_id: number;
  status: OrderStatus;
  total: string;
  created_at: Date;
}

interface OrderItemRow {
  order_id: number;
  product_id: number;
  quantity: number;
  unit_price: string;
}

export interface OrderItem {
  productId: number;
  quantity: number;
  unitPriceCents: number;
}

export interface Order {
  id: number;
  userId: number;
  status: OrderStatus;
  totalCents: number;
  items: OrderItem[];
  createdAt: string;
}

/** Who took an order's stock, and the reservation key when the products service did. */
export interface StockTaken {
  source: 'monolith' | 'service';
  key: string | null;
}

export interface StockRow {
  id: number;
  price: string;
  stock: number;
}

function toOrder(row: OrderRow, items: OrderItemRow[]): Order {
  return {
    id: row.id,
    userId: row.user_id,
    status: row.status,
    totalCents: dollarsToCents(row.total),
    items: items.map((i) => ({
      productId: i.product_id,
      quantity: i.quantity,
      unitPriceCents: dollarsToCents(i.unit_price),
    })),
    createdAt: row.created_at.toISOString(),
  };
}

const ORDER_COLUMNS: string[] = ['id', 'user_id', 'status', 'total', 'created_at'];
const ITEM_COLUMNS: string[] = ['order_id', 'product_id', 'quantity', 'unit_price'];

/** Order queries, bound to the pool or to one transaction. */
export class OrderStore {
  readonly #db: Knex;
  constructor(db: Knex) {
    this.#db = db;
  }

  /** Runs `fn` in one transaction, with a store bound to it. */
  transaction<T>(fn: (tx: OrderStore) => Promise<T>): Promise<T> {
    return this.#db.transaction((trx) => fn(new OrderStore(trx)));
  }

  async userExists(userId: number): Promise<boolean> {
    return (await this.#db('users').where({ id: userId }).first('id')) !== undefined;
  }

  /**
   * Locks the products' rows until the transaction ends. Locking in id order
   * means two orders for the same products never deadlock.
   */
  async lockProducts(ids: readonly number[]): Promise<StockRow[]> {
    return this.#db('products')
      .select<StockRow[]>('id', 'price', 'stock')
      .whereIn('id', [...ids])
      .orderBy('id')
      .forUpdate();
  }

  async adjustStock(productId: number, delta: number): Promise<void> {
    await this.#db('products')
      .where({ id: productId })
      .update({ stock: this.#db.raw('stock + ?', [delta]), updated_at: this.#db.fn.now() });
  }

  async insertOrder(userId: number, items: readonly OrderItem[], stock: StockTaken): Promise<Order> {
    const totalCents = items.reduce((sum, i) => sum + i.unitPriceCents * i.quantity, 0);
    const [row] = await this.#db('orders')
      .insert({
        user_id: userId,
        status: 'pending',
        total: centsToDollars(totalCents),
        stock_source: stock.source,
        stock_key: stock.key,
      })
      .returning(ORDER_COLUMNS);
    const order = row as OrderRow;
    const itemRows: OrderItemRow[] = await this.#db('order_items')
      .insert(
        items.map((i) => ({
          order_id: order.id,
          product_id: i.productId,
          quantity: i.quantity,
          unit_price: centsToDollars(i.unitPriceCents),
        })),
      )
      .returning(ITEM_COLUMNS);
    return toOrder(order, itemRows);
  }

  /** Where the order's stock was taken: ShopCo's products, or a reservation in the products service. */
  async stockOf(id: number): Promise<StockTaken | undefined> {
    const row = (await this.#db('orders').where({ id }).first('stock_source', 'stock_key')) as
      | { stock_source: StockTaken['source']; stock_key: string | null }
      | undefined;
    return row && { source: row.stock_source, key: row.stock_key };
  }

  async findById(id: number, { lock = false } = {}): Promise<Order | undefined> {
    const query = this.#db('orders').select(ORDER_COLUMNS).where({ id }).first();
    const row = (await (lock ? query.forUpdate() : query)) as OrderRow | undefined;
    if (!row) return undefined;
    const items = (await this.#db('order_items')
      .select(ITEM_COLUMNS)
      .where({ order_id: id })
      .orderBy('id')) as OrderItemRow[];
    return toOrder(row, items);
  }

  async listByUser(userId: number): Promise<Order[]> {
    const rows = (await this.#db('orders')
      .select(ORDER_COLUMNS)
      .where({ user_id: userId })
      .orderBy('id', 'desc')) as OrderRow[];
    if (rows.length === 0) return [];
    const items: OrderItemRow[] = await this.#db('order_items')
      .select(ITEM_COLUMNS)
      .whereIn(
        'order_id',
        rows.map((r) => r.id),
      )
      .orderBy('id');
    const byOrder = Map.groupBy(items, (i) => i.order_id);
    return rows.map((r) => toOrder(r, byOrder.get(r.id) ?? []));
  }

  async setStatus(id: number, status: OrderStatus): Promise<void> {
    await this.#db('orders').where({ id }).update({ status, updated_at: this.#db.fn.now() });
  }
}
