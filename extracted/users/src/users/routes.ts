import type { TokenService } from '@strangler/foundation';
import type { FastifyInstance } from 'fastify';
import { authenticate } from '../auth/authenticate.ts';
import { errorResponses, idParams } from '../http/schemas.ts';
import { loginBody, loginResponse, registerBody, updateBody, userSchema } from './schemas.ts';
import type { RegisterInput, UpdateInput, UserService } from './service.ts';

/** The users routes, with the monolith's paths, schemas and statuses. */
export function userRoutes(users: UserService, tokens: TokenService) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: RegisterInput }>(
      '/api/users/register',
      { schema: { body: registerBody, response: { 201: userSchema, ...errorResponses } } },
      async (request, reply) => reply.status(201).send(await users.register(request.body)),
    );

    app.post<{ Body: { email: string; password: string } }>(
      '/api/users/login',
      { schema: { body: loginBody, response: { 200: loginResponse, ...errorResponses } } },
      async (request) => users.login(request.body.email, request.body.password),
    );

    app.get<{ Params: { id: number } }>(
      '/api/users/:id',
      { schema: { params: idParams, response: { 200: userSchema, ...errorResponses } } },
      async (request) => users.get(request.params.id),
    );

    app.put<{ Params: { id: number }; Body: UpdateInput }>(
      '/api/users/:id',
      {
        onRequest: authenticate(tokens),
        schema: { params: idParams, body: updateBody, response: { 200: userSchema, ...errorResponses } },
      },
      async (request) => users.update(request.userId as number, request.params.id, request.body),
    );
  };
}
