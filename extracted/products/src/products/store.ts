import type { Knex } from 'knex';

/**
 * The `products` table of the products service's database
 * (migrations/src/products/001_products_schema.ts), as Postgres returns a row.
 * `search` is computed by Postgres and never read or written here.
 */
export interface ProductRow {
  id: number;
  sku: string;
  name: string;
  description: string | null;
  /** bigint; foundation's pg setup parses int8 as a number (prices stay far below 2^53). */
  price_cents: number;
  stock: number;
  created_at: Date;
  updated_at: Date;
}

export const PRODUCTS_TABLE = 'products';
/** The unique constraint on `sku`: a violation of it is a taken SKU. */
export const SKU_CONSTRAINT = 'products_sku_key';

/** The public shape, the monolith's exactly. */
export interface Product {
  id: number;
  sku: string;
  name: string;
  description: string | null;
  priceCents: number;
  stock: number;
}

/** A search hit: the product, and its rank key when the search ranked (see cursor.ts). */
export interface RankedProduct {
  product: Product;
  rankKey: number;
}

const COLUMNS = ['id', 'sku', 'name', 'description', 'price_cents', 'stock'] as const;
type PublicRow = Pick<ProductRow, (typeof COLUMNS)[number]>;

export function toProduct(row: PublicRow): Product {
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    description: row.description,
    priceCents: row.price_cents,
    stock: row.stock,
  };
}

/** `%`, `_` and `\` match literally in a search, as in ShopCo. */
export function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The only code of the public products routes that touches knex. */
export class ProductStore {
  readonly #db: Knex;
  constructor(db: Knex) {
    this.#db = db;
  }

  /** Inserts a product; the id comes from `products_id_seq`. Throws a unique violation on a taken SKU. */
  async insert(input: Omit<Product, 'id'>): Promise<Product> {
    const [row] = await this.#db(PRODUCTS_TABLE)
      .insert({
        sku: input.sku,
        name: input.name,
        description: input.description,
        price_cents: input.priceCents,
        stock: input.stock,
      })
      .returning(COLUMNS);
    return toProduct(row as PublicRow);
  }

  async findById(id: number): Promise<Product | undefined> {
    const row = (await this.#db(PRODUCTS_TABLE)
      .where({ id })
      .first(...COLUMNS)) as PublicRow | undefined;
    return row ? toProduct(row) : undefined;
  }

  async setStock(id: number, stock: number): Promise<Product | undefined> {
    const [row] = await this.#db(PRODUCTS_TABLE)
      .where({ id })
      .update({ stock, updated_at: this.#db.fn.now() })
      .returning(COLUMNS);
    return row ? toProduct(row as PublicRow) : undefined;
  }

  /**
   * ShopCo's search, exactly: products whose name or description contains `q`
   * (case-insensitive; all products when `q` is empty), by id, after `afterId`.
   */
  async searchById(q: string, afterId: number, limit: number): Promise<Product[]> {
    const query = this.#db(PRODUCTS_TABLE).select(COLUMNS).where('id', '>', afterId).orderBy('id').limit(limit);
    if (q !== '') {
      const pattern = likePattern(q);
      query.andWhere((w) => w.whereILike('name', pattern).orWhereILike('description', pattern));
    }
    return ((await query) as PublicRow[]).map(toProduct);
  }

  /**
   * The same matches as `searchById`, by relevance: `ts_rank_cd` of the
   * generated `search` vector against `websearch_to_tsquery(q)`, highest
   * first, then by id, after the keyset position (`afterRankKey`, `afterId`).
   * A product that contains `q` without matching the tsquery (`lamp` in
   * "Lampshade") ranks 0 and still comes back, after the ranked ones. When
   * `q` yields an empty tsquery (stop words only), every rank is 0: id order.
   * `ranked` says whether the tsquery had any lexeme.
   */
  async searchByRank(
    q: string,
    afterRankKey: number,
    afterId: number,
    limit: number,
  ): Promise<{ ranked: boolean; hits: RankedProduct[] }> {
    const match = q === '' ? 'true' : '(p.name ILIKE :pattern OR p.description ILIKE :pattern)';
    // float4send gives the rank's IEEE-754 bits; read as an int4 they order
    // non-negative ranks exactly as the ranks themselves (see cursor.ts).
    const { rows } = await this.#db.raw<{ rows: Array<PublicRow & { rank_key: number; ranked: boolean }> }>(
      `
      WITH query AS (SELECT websearch_to_tsquery('english', :q) AS tsq),
      matches AS (
        SELECT p.id, p.sku, p.name, p.description, p.price_cents, p.stock,
               numnode(query.tsq) > 0 AS ranked,
               ('x' || encode(float4send(
                 CASE WHEN numnode(query.tsq) = 0 THEN 0::real ELSE ts_rank_cd(p.search, query.tsq) END
               ), 'hex'))::bit(32)::int4 AS rank_key
        FROM products p CROSS JOIN query
        WHERE ${match}
      )
      SELECT * FROM matches
      WHERE rank_key < :afterRankKey OR (rank_key = :afterRankKey AND id > :afterId)
      ORDER BY rank_key DESC, id
      LIMIT :limit
      `,
      { q, pattern: likePattern(q), afterRankKey, afterId, limit },
    );
    return {
      // Every row carries the same flag; with no row there is no cursor to choose.
      ranked: rows[0]?.ranked ?? false,
      hits: rows.map((row) => ({ product: toProduct(row), rankKey: row.rank_key })),
    };
  }
}
