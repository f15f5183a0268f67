import { idSchema } from '../http/schemas.ts';

export const cardSchema = { type: 'string', pattern: '^[0-9]{12,19}$' } as const;

export const paymentSchema = {
  type: 'object',
  required: ['id', 'orderId', 'amountCents', 'status'],
  additionalProperties: false,
  properties: {
    id: { type: 'integer' },
    orderId: { type: 'integer' },
    amountCents: { type: 'integer' },
    status: { type: 'string', enum: ['succeeded', 'declined', 'refunded'] },
  },
} as const;

export const createPaymentBody = {
  type: 'object',
  required: ['orderId', 'amountCents', 'card'],
  additionalProperties: false,
  properties: {
    orderId: idSchema,
    amountCents: { type: 'integer', minimum: 1, maximum: 1_000_000_000_000 },
    card: cardSchema,
  },
} as const;
