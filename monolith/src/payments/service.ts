import {
  AlreadyRefunded,
  AmountMismatch,
  InvalidCard,
  NotRefundable,
  OrderNotFound,
  OrderNotPayable,
  PaymentDeclined,
  PaymentNotFound,
} from '../errors.ts';
import { isValidCardNumber, type PaymentGateway } from './gateway.ts';
import type { Payment, PaymentStore } from './store.ts';

export class PaymentService {
  readonly #store: PaymentStore;
  readonly #gateway: PaymentGateway;
  constructor(store: PaymentStore, gateway: PaymentGateway) {
    this.#store = store;
    this.#gateway = gateway;
  }

  assertCard(card: string): void {
    if (!isValidCardNumber(card)) throw new InvalidCard();
  }

  /**
   * Charges the card for a pending order. The order row stays locked while the
   * charge runs, so two payments for one order cannot both succeed. (The
   * simulated gateway answers at once; with a real one we would record a
   * pending payment first and charge with an idempotency key instead.)
   * A declined charge is recorded, then reported as 402.
   */
  async pay(orderId: number, amountCents: number, card: string): Promise<Payment> {
    this.assertCard(card);
    const payment = await this.#store.transaction(async (tx) => {
      const order = await tx.lockOrder(orderId);
      if (!order) throw new OrderNotFound(String(orderId));
      if (order.status !== 'pending') throw new OrderNotPayable(String(orderId), order.status);
      if (order.totalCents !== amountCents) throw new AmountMismatch(String(amountCents), String(order.totalCents));
      const { approved } = await this.#gateway.charge(card, amountCents);
      const recorded = await tx.insert({
        orderId,
        amountCents,
        status: approved ? 'succeeded' : 'declined',
        cardLast4: card.slice(-4),
      });
      if (approved) await tx.setOrderStatus(orderId, 'paid');
      return recorded;
    });
    if (payment.status === 'declined') throw new PaymentDeclined();
    return payment;
  }

  async get(id: number): Promise<Payment> {
    const payment = await this.#store.findById(id);
    if (!payment) throw new PaymentNotFound(String(id));
    return payment;
  }

  /** Refunds a succeeded payment of a paid order, once. */
  async refund(id: number): Promise<Payment> {
    return this.#store.transaction(async (tx) => {
      const payment = await tx.findById(id, { lock: true });
      if (!payment) throw new PaymentNotFound(String(id));
      if (payment.status === 'refunded') throw new AlreadyRefunded(String(id));
      if (payment.status !== 'succeeded') throw new NotRefundable(String(id), `it was ${payment.status}`);
      const order = await tx.lockOrder(payment.orderId);
      if (order?.status !== 'paid') throw new NotRefundable(String(id), `its order is ${order?.status ?? 'gone'}`);
      await tx.setStatus(id, 'refunded');
      await tx.setOrderStatus(payment.orderId, 'refunded');
      return { ...payment, status: 'refunded' };
    });
  }
}
