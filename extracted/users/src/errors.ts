import { defineError } from '@strangler/foundation';

// The users and auth codes of ShopCo (docs/errors.md), defined again with the
// same code, status and message: the service answers exactly as the monolith
// did. The catalog accepts an identical re-definition and refuses one that
// differs, so the two cannot drift apart in a process that loads both.

export const UserNotFound = defineError('USERS_NOT_FOUND', 404, 'User %s not found');
export const EmailTaken = defineError('USERS_EMAIL_TAKEN', 409, 'That email is already registered');
export const InvalidCredentials = defineError('USERS_INVALID_CREDENTIALS', 401, 'Email or password is incorrect');
export const TokenMissing = defineError(
  'AUTH_TOKEN_MISSING',
  401,
  'Send a bearer token: Authorization: Bearer <token>',
);
export const TokenInvalid = defineError('AUTH_TOKEN_INVALID', 401, 'The token is invalid or expired; log in again');
export const NotYourAccount = defineError('AUTH_FORBIDDEN', 403, 'You may only act on your own account');
