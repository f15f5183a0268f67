import type { FastifyBaseLogger } from 'fastify';
import type { ItemRequest, OrderService } from '../orders/service.ts';
import type { Order } from '../orders/store.ts';
import type { PaymentService } from '../payments/service.ts';
import type { Payment } from '../payments/store.ts';

/**
 * Checkout is a saga of local steps: reserve stock and create the order, then
 * pay. When payment fails, the compensation cancels the order, which puts the
 * stock back. Each step is its own transaction so that, once inventory moves to
 * the products service, the reservation can become a call to it without
 * changing the saga's shape (see docs/adr).
 */
export class CheckoutService {
  readonly #orders: OrderService;
  readonly #payments: PaymentService;
  constructor(orders: OrderService, payments: PaymentService) {
    this.#orders = orders;
    this.#payments = payments;
  }

  async checkout(
    userId: number,
    items: readonly ItemRequest[],
    card: string,
    log: FastifyBaseLogger,
  ): Promise<{ order: Order; payment: Payment }> {
    // Reject a malformed card before anything is reserved.
    this.#payments.assertCard(card);
    const order = await this.#orders.place(userId, items);
    let payment: Payment;
    try {
      payment = await this.#payments.pay(order.id, order.totalCents, card);
    } catch (err) {
      await this.#compensate(order.id, log);
      throw err;
    }
    return { order: { ...order, status: 'paid' }, payment };
  }

  async #compensate(orderId: number, log: FastifyBaseLogger): Promise<void> {
    try {
      await this.#orders.changeStatus(orderId, 'cancelled');
      log.info({ orderId }, 'checkout compensated: order cancelled, stock released');
    } catch (err) {
      // The order stays pending with its stock held; it is visible and can be cancelled by hand.
      log.error({ err, orderId }, 'checkout compensation failed; the order is still pending');
    }
  }
}
