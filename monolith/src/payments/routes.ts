import type { FastifyInstance } from 'fastify';
import { errorResponses, idParams } from '../http/schemas.ts';
import { createPaymentBody, paymentSchema } from './schemas.ts';
import type { PaymentService } from './service.ts';

export function paymentRoutes(payments: PaymentService) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: { orderId: number; amountCents: number; card: string } }>(
      '/api/payments',
      { schema: { body: createPaymentBody, response: { 201: paymentSchema, ...errorResponses } } },
      async (request, reply) => {
        const { orderId, amountCents, card } = request.body;
        return reply.status(201).send(await payments.pay(orderId, amountCents, card));
      },
    );

    app.get<{ Params: { id: number } }>(
      '/api/payments/:id',
      { schema: { params: idParams, response: { 200: paymentSchema, ...errorResponses } } },
      async (request) => payments.get(request.params.id),
    );

    app.post<{ Params: { id: number } }>(
      '/api/payments/:id/refund',
      { schema: { params: idParams, response: { 200: paymentSchema, ...errorResponses } } },
      async (request) => payments.refund(request.params.id),
    );
  };
}
