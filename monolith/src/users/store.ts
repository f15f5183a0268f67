import type { Knex } from 'knex';

/** A users row as the monolith stores it (note the single `full_name`). */
export interface UserRow {
  id: number;
  email: string;
  full_name: string;
  password_hash: string;
  created_at: Date;
  updated_at: Date;
}

export interface User {
  id: number;
  email: string;
  name: string;
  createdAt: string;
  updatedAt: string;
}

/** The public shape: camelCase, `full_name` as `name`, and never the password hash. */
export function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    name: row.full_name,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export const EMAIL_CONSTRAINT = 'users_email_lower_key';

export class UserStore {
  readonly #db: Knex;
  constructor(db: Knex) {
    this.#db = db;
  }

  async insert(input: { email: string; fullName: string; passwordHash: string }): Promise<UserRow> {
    const [row] = await this.#db<UserRow>('users')
      .insert({ email: input.email, full_name: input.fullName, password_hash: input.passwordHash })
      .returning('*');
    return row as UserRow;
  }

  async findById(id: number, db: Knex = this.#db): Promise<UserRow | undefined> {
    return db<UserRow>('users').where({ id }).first();
  }

  async findByEmail(email: string): Promise<UserRow | undefined> {
    return this.#db<UserRow>('users').whereRaw('lower(email) = lower(?)', [email]).first();
  }

  async update(
    id: number,
    changes: { email?: string; fullName?: string; passwordHash?: string },
  ): Promise<UserRow | undefined> {
    const patch: Record<string, unknown> = { updated_at: this.#db.fn.now() };
    if (changes.email !== undefined) patch.email = changes.email;
    if (changes.fullName !== undefined) patch.full_name = changes.fullName;
    if (changes.passwordHash !== undefined) patch.password_hash = changes.passwordHash;
    const [row] = await this.#db('users').where({ id }).update(patch).returning('*');
    return row as UserRow | undefined;
  }
}
