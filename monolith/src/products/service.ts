import { isUniqueViolation } from '@strangler/foundation';
import { InvalidCursor, ProductNotFound, SkuTaken } from '../errors.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { type Product, type ProductStore, toProduct } from './store.ts';

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

export class ProductService {
  readonly #store: ProductStore;
  constructor(store: ProductStore) {
    this.#store = store;
  }

  async create(input: CreateProductInput): Promise<Product> {
    try {
      return toProduct(
        await this.#store.insert({
          sku: input.sku,
          name: input.name.trim(),
          description: input.description ?? null,
          priceCents: input.priceCents,
          stock: input.stock,
        }),
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new SkuTaken(input.sku);
      throw err;
    }
  }

  async get(id: number): Promise<Product> {
    const row = await this.#store.findById(id);
    if (!row) throw new ProductNotFound(String(id));
    return toProduct(row);
  }

  async search({ q = '', limit, cursor }: SearchInput): Promise<{ items: Product[]; nextCursor: string | null }> {
    let afterId = 0;
    if (cursor !== undefined) {
      const decoded = decodeCursor(cursor);
      if (decoded === null) throw new InvalidCursor();
      afterId = decoded;
    }
    // One row more than asked tells whether there is a next page.
    const rows = await this.#store.search(q.trim(), afterId, limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { items: page.map(toProduct), nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
  }

  async setInventory(id: number, stock: number): Promise<Product> {
    const row = await this.#store.setStock(id, stock);
    if (!row) throw new ProductNotFound(String(id));
    return toProduct(row);
  }
}
