import { idSchema } from '../http/schemas.ts';
import { MAX_PAYABLE_CENTS } from './limits.ts';

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
    // 0 is allowed: an order of free products is paid like any other.
    amountCents: { type: 'integer', minimum: 0, maximum: MAX_PAYABLE_CENTS },
    card: cardSchema,
  },
} as const;
