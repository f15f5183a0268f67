import { timestampSchema } from '../http/schemas.ts';

// The monolith's users schemas (monolith/src/users/schemas.ts), unchanged: they
// are the contract, down to the validation messages a bad request gets back.

export const emailSchema = { type: 'string', format: 'email', minLength: 3, maxLength: 320 } as const;
// scrypt accepts any length; the upper bound keeps a login from being a CPU bomb.
export const passwordSchema = { type: 'string', minLength: 8, maxLength: 200 } as const;
export const nameSchema = { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' } as const;

export const userSchema = {
  type: 'object',
  required: ['id', 'email', 'name', 'createdAt', 'updatedAt'],
  additionalProperties: false,
  properties: {
    id: { type: 'integer' },
    email: { type: 'string' },
    name: { type: 'string' },
    createdAt: timestampSchema,
    updatedAt: timestampSchema,
  },
} as const;

export const registerBody = {
  type: 'object',
  required: ['email', 'password', 'name'],
  additionalProperties: false,
  properties: { email: emailSchema, password: passwordSchema, name: nameSchema },
} as const;

export const loginBody = {
  type: 'object',
  required: ['email', 'password'],
  additionalProperties: false,
  // Looser than registration on purpose: a malformed email simply fails to log in.
  properties: {
    email: { type: 'string', minLength: 1, maxLength: 320 },
    password: { type: 'string', minLength: 1, maxLength: 200 },
  },
} as const;

export const updateBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { email: emailSchema, password: passwordSchema, name: nameSchema },
} as const;

export const loginResponse = {
  type: 'object',
  required: ['token', 'user'],
  additionalProperties: false,
  properties: { token: { type: 'string' }, user: userSchema },
} as const;
