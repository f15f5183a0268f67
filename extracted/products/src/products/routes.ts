import type { FastifyInstance } from 'fastify';
import { errorResponses, idParams } from '../http/schemas.ts';
import { createProductBody, inventoryBody, productSchema, searchQuery, searchResponse } from './schemas.ts';
import type { CreateProductInput, ProductService, SearchInput } from './service.ts';

/** The public products routes, with the monolith's paths, schemas and statuses. */
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
      { schema: { querystring: searchQuery, response: { 200: searchResponse, ...errorResponses } } },
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
