import type { TokenService } from '@strangler/foundation';
import type { FastifyInstance } from 'fastify';
import { authenticate } from '../auth/authenticate.ts';
import { NotYourAccount } from '../errors.ts';
import { errorResponses, idSchema } from '../http/schemas.ts';
import { itemsSchema, orderSchema } from '../orders/schemas.ts';
import type { ItemRequest } from '../orders/service.ts';
import { cardSchema, paymentSchema } from '../payments/schemas.ts';
import type { CheckoutService } from './service.ts';

const checkoutBody = {
  type: 'object',
  required: ['userId', 'items', 'card'],
  additionalProperties: false,
  properties: { userId: idSchema, items: itemsSchema, card: cardSchema },
} as const;

export function checkoutRoutes(checkout: CheckoutService, tokens: TokenService) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: { userId: number; items: ItemRequest[]; card: string } }>(
      '/api/checkout',
      {
        onRequest: authenticate(tokens),
        schema: {
          body: checkoutBody,
          response: {
            201: {
              type: 'object',
              required: ['order', 'payment'],
              additionalProperties: false,
              properties: { order: orderSchema, payment: paymentSchema },
            },
            ...errorResponses,
          },
        },
      },
      async (request, reply) => {
        const { userId, items, card } = request.body;
        if (userId !== request.userId) throw new NotYourAccount();
        return reply.status(201).send(await checkout.checkout(userId, items, card, request.log));
      },
    );
  };
}
