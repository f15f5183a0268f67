import type { Knex } from 'knex';
import { dollarsToCents } from '../money.ts';

export type PaymentStatus = 'succeeded' | 'declined' | 'refunded';

interface PaymentRow {
  id: number;
  order_id: number;
  amount_cents: number;
  status: PaymentStatus;
}

export interface Payment {
  id: number;
  orderId: number;
  amountCents: number;
  status: PaymentStatus;
}

const COLUMNS: string[] = ['id', 'order_id', 'amount_cents', 'status'];

function toPayment(row: PaymentRow): Payment {
  return { id: row.id, orderId: row.order_id, amountCents: row.amount_cents, status: row.status };
}

export interface PayableOrder {
  id: number;
  status: string;
  totalCents: number;
}

export class PaymentStore {
  readonly #db: Knex;
  constructor(db: Knex) {
    this.#db = db;
  }

  transaction<T>(fn: (tx: PaymentStore) => Promise<T>): Promise<T> {
    return this.#db.transaction((trx) => fn(new PaymentStore(trx)));
  }

  async lockOrder(orderId: number): Promise<PayableOrder | undefined> {
    const row = await this.#db('orders').select('id', 'status', 'total').where({ id: orderId }).forUpdate().first();
    return row ? { id: row.id, status: row.status, totalCents: dollarsToCents(row.total) } : undefined;
  }

  async setOrderStatus(orderId: number, status: string): Promise<void> {
    await this.#db('orders').where({ id: orderId }).update({ status, updated_at: this.#db.fn.now() });
  }

  async insert(input: {
    orderId: number;
    amountCents: number;
    status: PaymentStatus;
    cardLast4: string;
  }): Promise<Payment> {
    const [row] = await this.#db('payments')
      .insert({
        order_id: input.orderId,
        amount_cents: input.amountCents,
        status: input.status,
        card_last4: input.cardLast4,
      })
      .returning(COLUMNS);
    return toPayment(row as PaymentRow);
  }

  async findById(id: number, { lock = false } = {}): Promise<Payment | undefined> {
    const query = this.#db('payments').select(COLUMNS).where({ id }).first();
    const row = (await (lock ? query.forUpdate() : query)) as PaymentRow | undefined;
    return row ? toPayment(row) : undefined;
  }

  async setStatus(id: number, status: PaymentStatus): Promise<void> {
    await this.#db('payments').where({ id }).update({ status, updated_at: this.#db.fn.now() });
  }
}
