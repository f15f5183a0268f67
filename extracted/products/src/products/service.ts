import { isUniqueViolation } from '@strangler/foundation';
import { InvalidCursor, ProductNotFound, SkuTaken } from '../errors.ts';
import { decodeCursor, encodeIdCursor, encodeRankCursor, RANK_KEY_CEILING } from './cursor.ts';
import { type Product, type ProductStore, SKU_CONSTRAINT } from './store.ts';

export interface CreateProductInput {
  sku: string;
  name: string;
  description?: string;
  priceCents: number;
  stock: number;
}

export interface SearchInput {
  q?: string;
  limit: number;
  cursor?: string;
}

export interface SearchPage {
  items: Product[];
  nextCursor: string | null;
}

/** The rules of the public products routes: the monolith's (monolith/src/products/service.ts), search ranked. */
export class ProductService {
  readonly #store: ProductStore;
  constructor(store: ProductStore) {
    this.#store = store;
  }

  async create(input: CreateProductInput): Promise<Product> {
    try {
      return await this.#store.insert({
        sku: input.sku,
        name: input.name.trim(),
        description: input.description ?? null,
        priceCents: input.priceCents,
        stock: input.stock,
      });
    } catch (err) {
      if (isUniqueViolation(err, SKU_CONSTRAINT)) throw new SkuTaken(input.sku);
      throw err;
    }
  }

  async get(id: number): Promise<Product> {
    const product = await this.#store.findById(id);
    if (!product) throw new ProductNotFound(String(id));
    return product;
  }

  async setInventory(id: number, stock: number): Promise<Product> {
    const product = await this.#store.setStock(id, stock);
    if (!product) throw new ProductNotFound(String(id));
    return product;
  }

  /**
   * The monolith's matches (name or description contains `q`), ordered by
   * relevance when `q` has words to rank by, else by id as the monolith does.
   * A page is asked for with one row more than `limit`: that row tells
   * whether there is a next page.
   */
  async search({ q: rawQ = '', limit, cursor }: SearchInput): Promise<SearchPage> {
    const q = rawQ.trim();
    const position = cursor === undefined ? undefined : decodeCursor(cursor);
    if (position === null) throw new InvalidCursor();

    if (position?.order === 'id' || (position === undefined && q === '')) {
      const rows = await this.#store.searchById(q, position?.afterId ?? 0, limit + 1);
      return byIdPage(rows, limit);
    }

    const { ranked, hits } = await this.#store.searchByRank(
      q,
      position?.afterRankKey ?? RANK_KEY_CEILING,
      position?.afterId ?? 0,
      limit + 1,
    );
    const page = hits.slice(0, limit);
    const last = page.at(-1);
    const items = page.map((h) => h.product);
    if (hits.length <= limit || !last) return { items, nextCursor: null };
    // A first page that could not rank is in id order: hand out ShopCo's cursor, which continues it.
    if (!ranked && position === undefined) return { items, nextCursor: encodeIdCursor(last.product.id) };
    return { items, nextCursor: encodeRankCursor(last.rankKey, last.product.id) };
  }
}

function byIdPage(rows: Product[], limit: number): SearchPage {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page, nextCursor: rows.length > limit && last ? encodeIdCursor(last.id) : null };
}
