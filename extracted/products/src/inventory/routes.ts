import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../http/schemas.ts';
import { requireInternalToken } from './internal-token.ts';
import { inventoryRequestBody, keyParams, reservationSchema } from './schemas.ts';
import type { InventoryService } from './service.ts';
import type { ItemRequest } from './store.ts';

type InventoryRequest = { key: string; items: ItemRequest[] };

/**
 * The internal inventory API, for ShopCo's orders and checkout once products
 * owns stock. Not part of the public API: the edge router has no rule for
 * `/internal` (it never forwards it here), and every route wants the internal token.
 */
export function inventoryRoutes(inventory: InventoryService, internalToken: string) {
  return async (app: FastifyInstance): Promise<void> => {
    // Inside this plugin only: the public routes stay open, as in ShopCo.
    app.addHook('onRequest', requireInternalToken(internalToken));
    const answers = { 200: reservationSchema, 201: reservationSchema, ...errorResponses };

    app.post<{ Body: InventoryRequest }>(
      '/internal/inventory/reservations',
      { schema: { body: inventoryRequestBody, response: answers } },
      async (request, reply) => {
        const { created, reservation } = await inventory.reserve(request.body.key, request.body.items);
        return reply.status(created ? 201 : 200).send(reservation);
      },
    );

    app.get<{ Params: { key: string } }>(
      '/internal/inventory/reservations/:key',
      { schema: { params: keyParams, response: answers } },
      async (request) => inventory.get(request.params.key),
    );

    app.post<{ Params: { key: string } }>(
      '/internal/inventory/reservations/:key/release',
      { schema: { params: keyParams, response: answers } },
      async (request) => inventory.release(request.params.key),
    );

    app.post<{ Body: InventoryRequest }>(
      '/internal/inventory/returns',
      { schema: { body: inventoryRequestBody, response: answers } },
      async (request, reply) => {
        const { created, reservation } = await inventory.returnStock(request.body.key, request.body.items);
        return reply.status(created ? 201 : 200).send(reservation);
      },
    );
  };
}
