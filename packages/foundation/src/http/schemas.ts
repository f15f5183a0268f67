import { errorBodySchema } from '../errors.ts';

/**
 * JSON-schema pieces every route of ShopCo and of the extracted services
 * uses, so an id or an error is validated and described the same way on both
 * sides of a migration.
 */

/** Ids are Postgres `integer`s. */
export const MAX_ID = 2_147_483_647;

export const idSchema = { type: 'integer', minimum: 1, maximum: MAX_ID } as const;

/** An id in a path: digits only, handed to the route as a number (see `integerText` in server-options.ts). */
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

export const timestampSchema = { type: 'string', format: 'date-time' } as const;
