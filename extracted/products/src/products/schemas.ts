// The monolith's products schemas (monolith/src/products/schemas.ts), unchanged:
// they are the contract, down to the validation messages a bad request gets back.

export const MAX_PRICE_CENTS = 9_999_999_999;
export const MAX_STOCK = 1_000_000_000;

export const productSchema = {
  type: 'object',
  required: ['id', 'sku', 'name', 'description', 'priceCents', 'stock'],
  additionalProperties: false,
  properties: {
    id: { type: 'integer' },
    sku: { type: 'string' },
    name: { type: 'string' },
    description: { type: ['string', 'null'] },
    priceCents: { type: 'integer' },
    stock: { type: 'integer' },
  },
} as const;

export const stockSchema = { type: 'integer', minimum: 0, maximum: MAX_STOCK } as const;

export const createProductBody = {
  type: 'object',
  required: ['sku', 'name', 'priceCents', 'stock'],
  additionalProperties: false,
  properties: {
    sku: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
    name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
    description: { type: 'string', maxLength: 5000 },
    priceCents: { type: 'integer', minimum: 0, maximum: MAX_PRICE_CENTS },
    stock: stockSchema,
  },
} as const;

export const searchQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    // No NUL: Postgres text cannot hold it, and it would fail in the query instead of here.
    q: { type: 'string', maxLength: 100, pattern: '^[^\\u0000]*$' },
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
    cursor: { type: 'string', minLength: 1, maxLength: 64 },
  },
} as const;

export const searchResponse = {
  type: 'object',
  required: ['items', 'nextCursor'],
  additionalProperties: false,
  properties: { items: { type: 'array', items: productSchema }, nextCursor: { type: ['string', 'null'] } },
} as const;

export const inventoryBody = {
  type: 'object',
  required: ['stock'],
  additionalProperties: false,
  properties: { stock: stockSchema },
} as const;
