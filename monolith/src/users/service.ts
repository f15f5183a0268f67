import { decoyHash, hashPassword, isUniqueViolation, type TokenService, verifyPassword } from '@strangler/foundation';
import { EmailTaken, InvalidCredentials, NotYourAccount, UserNotFound } from '../errors.ts';
import { EMAIL_CONSTRAINT, toUser, type User, type UserStore } from './store.ts';

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

export class UserService {
  readonly #store: UserStore;
  readonly #tokens: TokenService;
  constructor(store: UserStore, tokens: TokenService) {
    this.#store = store;
    this.#tokens = tokens;
  }

  async register(input: RegisterInput): Promise<User> {
    const passwordHash = await hashPassword(input.password);
    try {
      return toUser(await this.#store.insert({ email: input.email.trim(), fullName: input.name.trim(), passwordHash }));
    } catch (err) {
      if (isUniqueViolation(err, EMAIL_CONSTRAINT)) throw new EmailTaken();
      throw err;
    }
  }

  async login(email: string, password: string): Promise<{ token: string; user: User }> {
    const row = await this.#store.findByEmail(email.trim());
    // Verify against a decoy when the email is unknown: same answer, same time.
    const ok = await verifyPassword(password, row?.password_hash ?? (await decoyHash()));
    if (!row || !ok) throw new InvalidCredentials();
    return { token: this.#tokens.issue(row.id), user: toUser(row) };
  }

  async get(id: number): Promise<User> {
    const row = await this.#store.findById(id);
    if (!row) throw new UserNotFound(String(id));
    return toUser(row);
  }

  async update(actorId: number, id: number, input: UpdateInput): Promise<User> {
    if (actorId !== id) throw new NotYourAccount();
    const changes: { email?: string; fullName?: string; passwordHash?: string } = {};
    if (input.email !== undefined) changes.email = input.email.trim();
    if (input.name !== undefined) changes.fullName = input.name.trim();
    if (input.password !== undefined) changes.passwordHash = await hashPassword(input.password);
    try {
      const row = await this.#store.update(id, changes);
      if (!row) throw new UserNotFound(String(id));
      return toUser(row);
    } catch (err) {
      if (isUniqueViolation(err, EMAIL_CONSTRAINT)) throw new EmailTaken();
      throw err;
    }
  }
}
