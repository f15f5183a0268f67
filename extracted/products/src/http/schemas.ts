import { errorBodySchema } from '@strangler/foundation';

/** JSON-schema pieces of the products routes, the same as ShopCo's (monolith/src/http/schemas.ts). */

export const MAX_ID = 2_147_483_647;

export const idSchema = { type: 'integer', minimum: 1, maximum: MAX_ID } as const;

/** An id in a path: digits only, handed to the route as a number (see foundation's `integerText`). */
export const idTextSchema = { type: 'string', integerText: { minimum: 1, maximum: MAX_ID } } as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: idTextSchema },
} as const;

export const errorResponses = {
  '4xx': errorBodySchema,
  '5xx': errorBodySchema,
} as const;
