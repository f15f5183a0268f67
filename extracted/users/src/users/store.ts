import type { Knex } from 'knex';
import type { NameParts } from './name.ts';

/**
 * The `users` table of the users service's database
 * (migrations/src/users/001_users_schema.ts), as Postgres returns a row.
 */
export interface UserRow {
  id: number;
  /** As the user typed it; what the API returns. */
  email: string;
  /** lower(btrim(email)), computed by Postgres; the unique key. Never written. */
  email_normalized: string;
  first_name: string;
  last_name: string;
  password_hash: string;
  created_at: Date;
  updated_at: Date;
}

/** The columns a writer sets (the sync engine included): all but the computed `email_normalized`. */
export type WritableUserRow = Omit<UserRow, 'email_normalized'>;

export const USERS_TABLE = 'users';
/** The unique constraint on `email_normalized`: a violation of it is a taken email. */
export const EMAIL_CONSTRAINT = 'users_email_normalized_key';
/** The identity sequence of `users.id`, for the write cutover's `setval`. */
export const USER_ID_SEQUENCE = 'users_id_seq';

/** A user as the store hands it out: camelCase, and never the password hash. */
export interface StoredUser extends NameParts {
  id: number;
  email: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewUser extends NameParts {
  email: string;
  passwordHash: string;
}

export interface UserChanges {
  email?: string;
  name?: NameParts;
  passwordHash?: string;
}

// Selected explicitly so that the hash leaves the database only for a login.
const PUBLIC_COLUMNS = ['id', 'email', 'first_name', 'last_name', 'created_at', 'updated_at'] as const;
type PublicRow = Pick<UserRow, (typeof PUBLIC_COLUMNS)[number]>;

function toStoredUser(row: PublicRow): StoredUser {
  return {
    id: row.id,
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The only code of the service that touches knex. */
export class UserStore {
  readonly #db: Knex;
  constructor(db: Knex) {
    this.#db = db;
  }

  /** Inserts a user; the id comes from `users_id_seq`. Throws a unique violation on a taken email. */
  async insert(input: NewUser): Promise<StoredUser> {
    const [row] = await this.#db<UserRow>(USERS_TABLE)
      .insert({
        email: input.email,
        first_name: input.firstName,
        last_name: input.lastName,
        password_hash: input.passwordHash,
      })
      .returning(PUBLIC_COLUMNS);
    return toStoredUser(row as PublicRow);
  }

  async findById(id: number): Promise<StoredUser | undefined> {
    const row = await this.#db<UserRow>(USERS_TABLE)
      .where({ id })
      .first(...PUBLIC_COLUMNS);
    return row ? toStoredUser(row) : undefined;
  }

  /** The user and their password hash, for a login. The email matches as Postgres normalises it. */
  async findCredentialsByEmail(email: string): Promise<{ user: StoredUser; passwordHash: string } | undefined> {
    const row = await this.#db<UserRow>(USERS_TABLE)
      .whereRaw('email_normalized = lower(btrim(?))', [email])
      .first(...PUBLIC_COLUMNS, 'password_hash');
    return row ? { user: toStoredUser(row), passwordHash: row.password_hash } : undefined;
  }

  /** Applies the changes and stamps updated_at; undefined for an unknown id. */
  async update(id: number, changes: UserChanges): Promise<StoredUser | undefined> {
    const patch: Record<string, unknown> = { updated_at: this.#db.fn.now() };
    if (changes.email !== undefined) patch.email = changes.email;
    if (changes.name !== undefined) {
      patch.first_name = changes.name.firstName;
      patch.last_name = changes.name.lastName;
    }
    if (changes.passwordHash !== undefined) patch.password_hash = changes.passwordHash;
    const [row] = await this.#db(USERS_TABLE).where({ id }).update(patch).returning(PUBLIC_COLUMNS);
    return row ? toStoredUser(row as PublicRow) : undefined;
  }
}
