import { idSchema, idTextSchema, timestampSchema } from '../http/schemas.ts';
import { ORDER_STATUSES } from './status.ts';

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

export const orderSchema = {
  type: 'object',
  required: ['id', 'userId', 'status', 'totalCents', 'items', 'createdAt'],
  additionalProperties: false,
  properties: {
    id: { type: 'integer' },
    userId: { type: 'integer' },
    status: { type: 'string', enum: ORDER_STATUSES },
    totalCents: { type: 'integer' },
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['productId', 'quantity', 'unitPriceCents'],
        additionalProperties: false,
        properties: {
          productId: { type: 'integer' },
          quantity: { type: 'integer' },
          unitPriceCents: { type: 'integer' },
        },
      },
    },
    createdAt: timestampSchema,
  },
} as const;

export const createOrderBody = {
  type: 'object',
  required: ['userId', 'items'],
  additionalProperties: false,
  properties: { userId: idSchema, items: itemsSchema },
} as const;

export const statusBody = {
  type: 'object',
  required: ['status'],
  additionalProperties: false,
  properties: { status: { type: 'string', enum: ORDER_STATUSES } },
} as const;

export const userIdParams = {
  type: 'object',
  required: ['userId'],
  additionalProperties: false,
  properties: { userId: idTextSchema },
} as const;
