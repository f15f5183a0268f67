import type { TokenService } from '@strangler/foundation';
import type { FastifyInstance } from 'fastify';
import { authenticate } from '../auth/authenticate.ts';
import { NotYourAccount } from '../errors.ts';
import { errorResponses, idParams } from '../http/schemas.ts';
import { createOrderBody, orderSchema, statusBody, userIdParams } from './schemas.ts';
import type { ItemRequest, OrderService } from './service.ts';
import type { OrderStatus } from './status.ts';

export function orderRoutes(orders: OrderService, tokens: TokenService) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: { userId: number; items: ItemRequest[] } }>(
      '/api/orders',
      {
        onRequest: authenticate(tokens),
        schema: { body: createOrderBody, response: { 201: orderSchema, ...errorResponses } },
      },
      async (request, reply) => {
        if (request.body.userId !== request.userId) throw new NotYourAccount();
        return reply.status(201).send(await orders.place(request.body.userId, request.body.items));
      },
    );

    app.get<{ Params: { id: number } }>(
      '/api/orders/:id',
      { schema: { params: idParams, response: { 200: orderSchema, ...errorResponses } } },
      async (request) => orders.get(request.params.id),
    );

    // Lives under /api/users but belongs to orders: the router routes by route, not prefix.
    app.get<{ Params: { userId: number } }>(
      '/api/users/:userId/orders',
      {
        schema: {
          params: userIdParams,
          response: {
            200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: orderSchema } } },
            ...errorResponses,
          },
        },
      },
      async (request) => orders.listForUser(request.params.userId),
    );

    app.patch<{ Params: { id: number }; Body: { status: OrderStatus } }>(
      '/api/orders/:id/status',
      { schema: { params: idParams, body: statusBody, response: { 200: orderSchema, ...errorResponses } } },
      async (request) => orders.changeStatus(request.params.id, request.body.status),
    );
  };
}
