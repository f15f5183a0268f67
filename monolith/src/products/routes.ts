import type { FastifyInstance } from 'fastify';
import { errorResponses, idParams } from '../http/schemas.ts';
import { createProductBody, inventoryBody, productSchema, searchQuery } from './schemas.ts';
import type { CreateProductInput, ProductService, SearchInput } from './service.ts';

export function productRoutes(products: ProductService) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: CreateProductInput }>(
      '/api/products',
      { schema: { body: createProductBody, response: { 201: productSchema, ...errorResponses } } },
      async (request, reply) => reply.status(201).send(await products.create(request.body)),
    );

    // A static segment: find-my-way matches it before `/api/products/:id`.
    app.get<{ Querystring: SearchInput }>(
      '/api/products/search',
      {
        schema: {
          querystring: searchQuery,
          response: {
            200: {
              type: 'object',
              required: ['items', 'nextCursor'],
              additionalProperties: false,
              properties: { items: { type: 'array', items: productSchema }, nextCursor: { type: ['string', 'null'] } },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => products.search(request.query),
    );

    app.get<{ Params: { id: number } }>(
      '/api/products/:id',
      { schema: { params: idParams, response: { 200: productSchema, ...errorResponses } } },
      async (request) => products.get(request.params.id),
    );

    app.put<{ Params: { id: number }; Body: { stock: number } }>(
      '/api/products/:id/inventory',
      { schema: { params: idParams, body: inventoryBody, response: { 200: productSchema, ...errorResponses } } },
      async (request) => products.setInventory(request.params.id, request.body.stock),
    );
  };
}
