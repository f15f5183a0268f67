import { idSchema } from '../http/schemas.ts';

/** JSON schemas of the internal inventory API (README.md, "The internal inventory API"). */

export const KEY_PATTERN = '^[A-Za-z0-9:_-]{1,100}$';
export const keySchema = { type: 'string', pattern: KEY_PATTERN } as const;

/** The monolith's order lines (monolith/src/orders/schemas.ts): what its orders reserve and return. */
export const itemsSchema = {
  type: 'array',
  minItems: 1,
  maxItems: 100,
  items: {
    type: 'object',
    required: ['productId', 'quantity'],
    additionalProperties: false,
    properties: { productId: idSchema, quantity: { type: 'integer', minimum: 1, maximum: 10_000 } },
  },
} as const;

export const inventoryRequestBody = {
  type: 'object',
  required: ['key', 'items'],
  additionalProperties: false,
  properties: { key: keySchema, items: itemsSchema },
} as const;

export const keyParams = {
  type: 'object',
  required: ['key'],
  additionalProperties: false,
  properties: { key: keySchema },
} as const;

export const reservationSchema = {
  type: 'object',
  required: ['key', 'status', 'items'],
  additionalProperties: false,
  properties: {
    key: { type: 'string' },
    status: { type: 'string', enum: ['held', 'released', 'returned'] },
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['productId', 'quantity'],
        additionalProperties: false,
        properties: {
          productId: { type: 'integer' },
          quantity: { type: 'integer' },
          // The price when the stock was reserved; returns have none.
          unitPriceCents: { type: 'integer' },
        },
      },
    },
  },
} as const;
