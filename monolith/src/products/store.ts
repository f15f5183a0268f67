import type { Knex } from 'knex';
import { centsToDollars, dollarsToCents } from '../money.ts';

/** A products row: `price` is NUMERIC dollars, returned by pg as a string. */
export interface ProductRow {
  id: number;
  sku: string;
  name: string;
  description: string | null;
  price: string;
  stock: number;
}

export interface Product {
  id: number;
  sku: string;
  name: string;
  description: string | null;
  priceCents: number;
  stock: number;
}

export function toProduct(row: ProductRow): Product {
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    description: row.description,
    priceCents: dollarsToCents(row.price),
    stock: row.stock,
  };
}

const COLUMNS: string[] = ['id', 'sku', 'name', 'description', 'price', 'stock'];

/** `%`, `_` and `\` match literally in a search. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export class ProductStore {
  readonly #db: Knex;
  constructor(db: Knex) {
    this.#db = db;
  }

  async insert(input: {
    sku: string;
    name: string;
    description: string | null;
    priceCents: number;
    stock: number;
  }): Promise<ProductRow> {
    const [row] = await this.#db('products')
      .insert({
        sku: input.sku,
        name: input.name,
        description: input.description,
        price: centsToDollars(input.priceCents),
        stock: input.stock,
      })
      .returning(COLUMNS);
    return row as ProductRow;
  }

  async findById(id: number): Promise<ProductRow | undefined> {
    return (await this.#db('products').select(COLUMNS).where({ id }).first()) as ProductRow | undefined;
  }

  /** Products whose name or description contains `q`, by id, after `afterId`. */
  async search(q: string, afterId: number, limit: number): Promise<ProductRow[]> {
    const query = this.#db('products').select(COLUMNS).where('id', '>', afterId).orderBy('id').limit(limit);
    if (q !== '') {
      const pattern = `%${escapeLike(q)}%`;
      query.andWhere((w) => w.whereILike('name', pattern).orWhereILike('description', pattern));
    }
    return (await query) as ProductRow[];
  }

  async setStock(id: number, stock: number): Promise<ProductRow | undefined> {
    const [row] = await this.#db('products')
      .where({ id })
      .update({ stock, updated_at: this.#db.fn.now() } as Partial<ProductRow>)
      .returning(COLUMNS);
    return row as ProductRow | undefined;
  }
}
