import { decoyHash, hashPassword, isUniqueViolation, type TokenService, verifyPassword } from '@strangler/foundation';
import { EmailTaken, InvalidCredentials, NotYourAccount, UserNotFound } from '../errors.ts';
import { joinName, splitName } from './name.ts';
import { EMAIL_CONSTRAINT, type StoredUser, type UserChanges, type UserStore } from './store.ts';

export interface RegisterInput {
  email: string;
  password: string;
  name: string;
}

export interface UpdateInput {
  email?: string;
  password?: string;
  name?: string;
}

/** The public shape, the monolith's exactly: one `name`, ISO timestamps, no hash. */
export interface User {
  id: number;
  email: string;
  name: string;
  createdAt: string;
  updatedAt: string;
}

export function toUser(stored: StoredUser): User {
  return {
    id: stored.id,
    email: stored.email,
    name: joinName(stored),
    createdAt: stored.createdAt.toISOString(),
    updatedAt: stored.updatedAt.toISOString(),
  };
}

/** The rules of the users routes, the monolith's (monolith/src/users/service.ts) on the new schema. */
export class UserService {
  readonly #store: UserStore;
  readonly #tokens: TokenService;
  constructor(store: UserStore, tokens: TokenService) {
    this.#store = store;
    this.#tokens = tokens;
  }

  async register(input: RegisterInput): Promise<User> {
    const passwordHash = await hashPassword(input.password);
    const email = input.email.trim();
    try {
      return toUser(await this.#store.insert({ email, ...splitName(input.name.trim()), passwordHash }));
    } catch (err) {
      if (isUniqueViolation(err, EMAIL_CONSTRAINT)) throw new EmailTaken();
      throw err;
    }
  }

  async login(email: string, password: string): Promise<{ token: string; user: User }> {
    const found = await this.#store.findCredentialsByEmail(email.trim());
    // Verify against a decoy when the email is unknown: same answer, same time.
    const ok = await verifyPassword(password, found?.passwordHash ?? (await decoyHash()));
    if (!found || !ok) throw new InvalidCredentials();
    return { token: this.#tokens.issue(found.user.id), user: toUser(found.user) };
  }

  async get(id: number): Promise<User> {
    const stored = await this.#store.findById(id);
    if (!stored) throw new UserNotFound(String(id));
    return toUser(stored);
  }

  async update(actorId: number, id: number, input: UpdateInput): Promise<User> {
    if (actorId !== id) throw new NotYourAccount();
    const changes: UserChanges = {};
    if (input.email !== undefined) changes.email = input.email.trim();
    if (input.name !== undefined) changes.name = splitName(input.name.trim());
    if (input.password !== undefined) changes.passwordHash = await hashPassword(input.password);
    try {
      const stored = await this.#store.update(id, changes);
      if (!stored) throw new UserNotFound(String(id));
      return toUser(stored);
    } catch (err) {
      if (isUniqueViolation(err, EMAIL_CONSTRAINT)) throw new EmailTaken();
      throw err;
    }
  }
}
