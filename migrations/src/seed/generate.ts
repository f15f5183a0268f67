import { scrypt } from 'node:crypto';

/**
 * Deterministic seed data for ShopCo's database: the same seed and scale give
 * byte-identical rows on every machine. Every row is derived from its own
 * PRNG, keyed by (seed, table, id), so a row never depends on how many others
 * were generated: `--orders 10` and `--orders 1000` share their first ten
 * orders, and the orders, order_items and payments generators can each
 * recompute an order independently instead of holding them all in memory.
 */

/** Every seeded user's password. */
export const SEED_PASSWORD = 'shopco-demo';

/** Timestamps are spread over the two years before this instant, not around "now", to stay deterministic. */
const SEED_EPOCH_MS = Date.UTC(2025, 0, 1);
const DAY_MS = 86_400_000;
const HISTORY_DAYS = 730;

const SCRYPT_COST = { N: 16384, r: 8, p: 1 } as const;
const SCRYPT_KEY_LENGTH = 64;

export const DEFAULT_BATCH_SIZE = 5000;

export interface SeedScale {
  users: number;
  products: number;
  orders: number;
}

export interface SeedOptions extends SeedScale {
  /** Any non-negative safe integer. */
  seed: number;
}

export interface SeedPlan extends SeedOptions {
  /** One scrypt hash of SEED_PASSWORD, shared by every user: hashing 100k passwords would take minutes. */
  passwordHash: string;
  /** Each product's price in cents, by product id (index 0 unused), for pricing order items. */
  priceCents: Int32Array;
}

export type UserSeedRow = {
  id: number;
  email: string;
  full_name: string;
  password_hash: string;
  created_at: string;
  updated_at: string;
};

export type ProductSeedRow = {
  id: number;
  sku: string;
  name: string;
  description: string | null;
  /** NUMERIC dollars, two decimals, as the legacy schema stores it. */
  price: string;
  stock: number;
  created_at: string;
  updated_at: string;
};

export const ORDER_STATUSES = ['pending', 'paid', 'shipped', 'cancelled', 'refunded'] as const;
export type SeedOrderStatus = (typeof ORDER_STATUSES)[number];

export type OrderSeedRow = {
  id: number;
  user_id: number;
  status: SeedOrderStatus;
  /** NUMERIC dollars: the sum of the order's items. */
  total: string;
  created_at: string;
  updated_at: string;
};

export type OrderItemSeedRow = {
  id: number;
  order_id: number;
  product_id: number;
  quantity: number;
  /** NUMERIC dollars: the product's price. */
  unit_price: string;
};

export type PaymentSeedRow = {
  id: number;
  order_id: number;
  amount_cents: number;
  status: 'succeeded' | 'refunded';
  card_last4: string;
  created_at: string;
  updated_at: string;
};

// ---------------------------------------------------------------- randomness

export type Random = () => number;

/** mulberry32: a tiny, fast 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes integers into one well-spread 32-bit value (murmur3's finaliser after each step). */
function mix(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const value of values) {
    // Fold the high bits in too, so seeds above 2^32 still differ.
    for (const part of [value >>> 0, Math.floor(value / 4294967296) >>> 0]) {
      h = Math.imul(h ^ part, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
    }
  }
  return h >>> 0;
}

const STREAM = { password: 1, user: 2, product: 3, order: 4 } as const;

function rowRandom(seed: number, stream: number, id: number): Random {
  return mulberry32(mix(seed, stream, id));
}

function int(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** Picks from [value, weight] pairs; the weights need not sum to 1. */
function weighted<T>(random: Random, choices: ReadonlyArray<readonly [T, number]>): T {
  const total = choices.reduce((sum, [, weight]) => sum + weight, 0);
  let r = random() * total;
  for (const [value, weight] of choices) {
    r -= weight;
    if (r < 0) return value;
  }
  return (choices[choices.length - 1] as readonly [T, number])[0];
}

// ---------------------------------------------------------------- vocabulary

const FIRST_NAMES: readonly string[] = (
  'Aisha Alejandro Amara Anna Arjun Beatriz Ben Carlos Chen Chloe Daniel Dmitri Elena Emma Fatima Felix ' +
  'Grace Hana Hugo Ibrahim Ines Isabel Jack James Jonas Julia Kai Kenji Laila Leo Lucas Lucia Maya ' +
  'Mateo Mei Mia Nadia Noah Nora Olivia Omar Oscar Priya Rafael Ravi Rosa Sam Sara Sofia Tariq Theo ' +
  'Tomas Valentina Wei Yara Yusuf Zoe Zara'
).split(' ');

const LAST_NAMES: readonly string[] = (
  'Abe Adeyemi Alvarez Andersen Bauer Becker Brown Chen Costa Dubois Edwards Fischer Garcia Gonzalez ' +
  'Haddad Hansen Ivanova Jensen Johnson Kim Kowalski Kumar Larsen Lee Lopez Martin Meyer Moreau Muller ' +
  'Nakamura Nguyen Novak Okafor Olsen Patel Perez Petrov Quinn Rossi Santos Schmidt Silva Singh Smith ' +
  'Suzuki Tanaka Taylor Torres Wagner Walker Wang Weber Williams Wilson Yamamoto Zhang'
).split(' ');

/** Reserved example domains (RFC 2606): seeded addresses can never reach a real mailbox. */
const EMAIL_DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.com', 'shop.example'] as const;

interface Category {
  code: string;
  nouns: readonly string[];
  /** Whole-dollar price range. */
  dollars: readonly [number, number];
  uses: readonly string[];
}

const CATEGORIES: readonly Category[] = [
  {
    code: 'KIT',
    nouns: ['Mug', 'Kettle', 'Skillet', 'Chef Knife', 'Cutting Board', 'Teapot', 'Salad Bowl', 'Coffee Grinder'],
    dollars: [4, 149],
    uses: ['everyday cooking', 'slow Sunday breakfasts', 'dinner parties'],
  },
  {
    code: 'OUT',
    nouns: ['Tent', 'Backpack', 'Lantern', 'Hammock', 'Sleeping Bag', 'Water Bottle', 'Camp Stove', 'Trekking Poles'],
    dollars: [12, 399],
    uses: ['weekend camping', 'long hikes', 'backyard evenings'],
  },
  {
    code: 'OFF',
    nouns: ['Desk Lamp', 'Notebook', 'Office Chair', 'Monitor Stand', 'Pen Set', 'Desk Organizer', 'Standing Desk'],
    dollars: [3, 599],
    uses: ['home offices', 'long workdays', 'focused study sessions'],
  },
  {
    code: 'AUD',
    nouns: ['Headphones', 'Bluetooth Speaker', 'Earbuds', 'Turntable', 'Soundbar', 'Microphone'],
    dollars: [19, 499],
    uses: ['commuting', 'podcast recording', 'movie nights'],
  },
  {
    code: 'APP',
    nouns: ['Jacket', 'Hoodie', 'T-Shirt', 'Socks', 'Beanie', 'Raincoat', 'Sneakers', 'Scarf'],
    dollars: [9, 199],
    uses: ['rainy commutes', 'city walks', 'layering in winter'],
  },
  {
    code: 'HOM',
    nouns: ['Throw Blanket', 'Pillow', 'Scented Candle', 'Vase', 'Wall Clock', 'Picture Frame', 'Rug', 'Plant Pot'],
    dollars: [7, 249],
    uses: ['cozy living rooms', 'guest bedrooms', 'housewarming gifts'],
  },
];

const ADJECTIVES: readonly string[] = (
  'Classic Compact Deluxe Ergonomic Handmade Lightweight Modern Organic Premium Rustic Sleek Vintage ' +
  'Waterproof Wireless Foldable Everyday'
).split(' ');

const MATERIALS: readonly string[] =
  'Bamboo Ceramic Copper Cotton Leather Linen Oak Hemp Steel Walnut Wool Granite'.split(' ');

const COLORS = ['black', 'charcoal', 'olive', 'navy', 'sand', 'terracotta', 'sage green', 'white', 'mustard'] as const;

const FEATURES = [
  'Built to last and easy to clean.',
  'Ships in recyclable packaging.',
  'Backed by a two-year warranty.',
  'A customer favourite since launch.',
  'Designed in-house and tested for durability.',
  'Limited edition: restocks are rare.',
] as const;

// ---------------------------------------------------------------- helpers

function centsToDollars(cents: number): string {
  return `${Math.trunc(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

function timestamp(ms: number): string {
  return new Date(ms).toISOString();
}

function assertScale(options: SeedOptions): void {
  const problem = seedOptionsProblem(options);
  if (problem) throw new RangeError(problem);
}

/** What is wrong with these options, or undefined when they are usable. */
export function seedOptionsProblem(options: SeedOptions): string | undefined {
  for (const key of ['users', 'products', 'orders', 'seed'] as const) {
    const value = options[key];
    if (!Number.isSafeInteger(value) || value < 0) return `${key} must be a non-negative integer, got ${value}`;
  }
  if (options.orders > 0 && (options.users === 0 || options.products === 0)) {
    return 'orders need users and products to reference: with orders > 0, users and products must be > 0 too';
  }
  return undefined;
}

// ---------------------------------------------------------------- password

/**
 * SEED_PASSWORD hashed in the monolith's `scrypt$N$r$p$salt$hash` format, with
 * a salt drawn from the seed so the hash is as deterministic as the rest.
 */
export function seedPasswordHash(seed: number): Promise<string> {
  const random = rowRandom(seed, STREAM.password, 0);
  const salt = Buffer.alloc(16);
  for (let i = 0; i < salt.length; i++) salt[i] = Math.floor(random() * 256);
  return new Promise((resolve, reject) => {
    scrypt(SEED_PASSWORD.normalize('NFC'), salt, SCRYPT_KEY_LENGTH, SCRYPT_COST, (err, key) => {
      if (err) return reject(err);
      const { N, r, p } = SCRYPT_COST;
      resolve(['scrypt', N, r, p, salt.toString('base64'), key.toString('base64')].join('$'));
    });
  });
}

// ---------------------------------------------------------------- rows

function userCreatedAtMs(random: Random): number {
  return SEED_EPOCH_MS - HISTORY_DAYS * DAY_MS + Math.floor(random() * (HISTORY_DAYS - 30) * DAY_MS);
}

export function userRow(plan: SeedPlan, id: number): UserSeedRow {
  const random = rowRandom(plan.seed, STREAM.user, id);
  // Drawn first so orders can recompute it cheaply (see orderShape).
  const createdAt = timestamp(userCreatedAtMs(random));
  const first = pick(random, FIRST_NAMES);
  const last = pick(random, LAST_NAMES);
  const f = first.toLowerCase();
  const l = last.toLowerCase();
  // Names hold no digits, so the trailing number, the id, alone makes each address unique.
  const local = pick(random, [`${f}.${l}`, `${f}${l}`, `${f.charAt(0)}${l}`, `${f}_${l}`, `${l}.${f}`]);
  return {
    id,
    email: `${local}${id}@${pick(random, EMAIL_DOMAINS)}`,
    full_name: `${first} ${last}`,
    password_hash: plan.passwordHash,
    created_at: createdAt,
    updated_at: createdAt,
  };
}

/** The first draws of a product's PRNG: shared by productRow and the price table orders use. */
function productBasics(random: Random): { category: Category; priceCents: number } {
  const category = pick(random, CATEGORIES);
  const [min, max] = category.dollars;
  const cents = weighted(random, [
    [99, 6],
    [49, 2],
    [0, 1],
    [95, 1],
  ] as const);
  return { category, priceCents: int(random, min, max) * 100 + cents };
}

export function productRow(seed: number, id: number): ProductSeedRow {
  const random = rowRandom(seed, STREAM.product, id);
  const { category, priceCents } = productBasics(random);
  const adjective = pick(random, ADJECTIVES);
  const material = pick(random, MATERIALS);
  const noun = pick(random, category.nouns);
  const color = pick(random, COLORS);
  // A few low-stock products, so demos hit "out of stock" without hunting for one.
  const stock = random() < 0.15 ? int(random, 0, 5) : int(random, 6, 1000);
  const description =
    random() < 0.03
      ? null // the legacy column is nullable, and some rows never got one
      : `${adjective} ${noun.toLowerCase()} in ${material.toLowerCase()}, finished in ${color}. ` +
        `Made for ${pick(random, category.uses)}. ${pick(random, FEATURES)}`;
  const createdAt = timestamp(SEED_EPOCH_MS - HISTORY_DAYS * DAY_MS + Math.floor(random() * HISTORY_DAYS * DAY_MS));
  return {
    id,
    sku: `${category.code}-${String(id).padStart(6, '0')}`,
    name: `${adjective} ${material} ${noun}`,
    description,
    price: centsToDollars(priceCents),
    stock,
    created_at: createdAt,
    updated_at: createdAt,
  };
}

interface OrderShape {
  id: number;
  userId: number;
  status: SeedOrderStatus;
  items: Array<{ productId: number; quantity: number; unitPriceCents: number }>;
  totalCents: number;
  createdAtMs: number;
  updatedAtMs: number;
  cardLast4: string;
}

const STATUS_WEIGHTS = [
  ['pending', 12],
  ['paid', 20],
  ['shipped', 48],
  ['cancelled', 12],
  ['refunded', 8],
] as const satisfies ReadonlyArray<readonly [SeedOrderStatus, number]>;

const ITEM_COUNT_WEIGHTS = [
  [1, 35],
  [2, 30],
  [3, 20],
  [4, 10],
  [5, 5],
] as const;

/** Everything about one order, recomputed on demand by each of the three order tables' generators. */
function orderShape(plan: SeedPlan, id: number): OrderShape {
  const random = rowRandom(plan.seed, STREAM.order, id);
  const userId = int(random, 1, plan.users);
  const status = weighted(random, STATUS_WEIGHTS);
  const count = Math.min(weighted(random, ITEM_COUNT_WEIGHTS), plan.products);
  const items: OrderShape['items'] = [];
  const chosen = new Set<number>();
  while (items.length < count) {
    // Squaring skews towards low ids: a few best-sellers, a long tail.
    const productId = 1 + Math.floor(random() ** 2 * plan.products);
    if (chosen.has(productId)) continue;
    chosen.add(productId);
    const quantity = weighted(random, [
      [1, 70],
      [2, 20],
      [3, 10],
    ] as const);
    items.push({ productId, quantity, unitPriceCents: plan.priceCents[productId] as number });
  }
  const totalCents = items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0);
  // After the user signed up, before the epoch.
  const userSince = userCreatedAtMs(rowRandom(plan.seed, STREAM.user, userId));
  const createdAtMs = userSince + Math.floor(random() * (SEED_EPOCH_MS - userSince));
  const updatedAtMs = status === 'pending' ? createdAtMs : createdAtMs + int(random, 60_000, 10 * DAY_MS);
  const cardLast4 = random() < 0.6 ? '4242' : String(int(random, 0, 9999)).padStart(4, '0');
  return { id, userId, status, items, totalCents, createdAtMs, updatedAtMs, cardLast4 };
}

function paymentStatusOf(status: SeedOrderStatus): PaymentSeedRow['status'] | undefined {
  if (status === 'paid' || status === 'shipped') return 'succeeded';
  if (status === 'refunded') return 'refunded';
  return undefined;
}

// ---------------------------------------------------------------- plan and batches

export async function createSeedPlan(options: SeedOptions): Promise<SeedPlan> {
  assertScale(options);
  const priceCents = new Int32Array(options.products + 1);
  for (let id = 1; id <= options.products; id++) {
    priceCents[id] = productBasics(rowRandom(options.seed, STREAM.product, id)).priceCents;
  }
  return {
    seed: options.seed,
    users: options.users,
    products: options.products,
    orders: options.orders,
    passwordHash: await seedPasswordHash(options.seed),
    priceCents,
  };
}

function* batched<T>(rows: Iterable<T>, batchSize: number): Generator<T[]> {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
  let batch: T[] = [];
  for (const row of rows) {
    batch.push(row);
    if (batch.length === batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** `toRow(1)` … `toRow(count)`, lazily. */
function* mapIds<T>(count: number, toRow: (id: number) => T): Generator<T> {
  for (let id = 1; id <= count; id++) yield toRow(id);
}

export function generateUsers(plan: SeedPlan, batchSize = DEFAULT_BATCH_SIZE): Generator<UserSeedRow[]> {
  return batched(
    mapIds(plan.users, (id) => userRow(plan, id)),
    batchSize,
  );
}

export function generateProducts(plan: SeedPlan, batchSize = DEFAULT_BATCH_SIZE): Generator<ProductSeedRow[]> {
  return batched(
    mapIds(plan.products, (id) => productRow(plan.seed, id)),
    batchSize,
  );
}

export function generateOrders(plan: SeedPlan, batchSize = DEFAULT_BATCH_SIZE): Generator<OrderSeedRow[]> {
  return batched(
    mapIds(plan.orders, (id): OrderSeedRow => {
      const order = orderShape(plan, id);
      return {
        id,
        user_id: order.userId,
        status: order.status,
        total: centsToDollars(order.totalCents),
        created_at: timestamp(order.createdAtMs),
        updated_at: timestamp(order.updatedAtMs),
      };
    }),
    batchSize,
  );
}

function* orderItemRows(plan: SeedPlan): Generator<OrderItemSeedRow> {
  let id = 0;
  for (let orderId = 1; orderId <= plan.orders; orderId++) {
    for (const item of orderShape(plan, orderId).items) {
      id++;
      yield {
        id,
        order_id: orderId,
        product_id: item.productId,
        quantity: item.quantity,
        unit_price: centsToDollars(item.unitPriceCents),
      };
    }
  }
}

export function generateOrderItems(plan: SeedPlan, batchSize = DEFAULT_BATCH_SIZE): Generator<OrderItemSeedRow[]> {
  return batched(orderItemRows(plan), batchSize);
}

function* paymentRows(plan: SeedPlan): Generator<PaymentSeedRow> {
  let id = 0;
  for (let orderId = 1; orderId <= plan.orders; orderId++) {
    const order = orderShape(plan, orderId);
    const status = paymentStatusOf(order.status);
    if (!status) continue;
    id++;
    // Paid a minute or so after ordering; a refund touches the payment again later.
    const createdAtMs = order.createdAtMs + 60_000;
    yield {
      id,
      order_id: orderId,
      amount_cents: order.totalCents,
      status,
      card_last4: order.cardLast4,
      created_at: timestamp(createdAtMs),
      updated_at: timestamp(status === 'refunded' ? order.updatedAtMs : createdAtMs),
    };
  }
}

export function generatePayments(plan: SeedPlan, batchSize = DEFAULT_BATCH_SIZE): Generator<PaymentSeedRow[]> {
  return batched(paymentRows(plan), batchSize);
}

export const SEED_TABLES = ['users', 'products', 'orders', 'order_items', 'payments'] as const;
export type SeedTable = (typeof SEED_TABLES)[number];

/** How many rows each table will get: order_items and payments depend on the orders drawn. */
export function plannedRowCounts(plan: SeedPlan): Record<SeedTable, number> {
  let items = 0;
  let payments = 0;
  for (let id = 1; id <= plan.orders; id++) {
    const order = orderShape(plan, id);
    items += order.items.length;
    if (paymentStatusOf(order.status)) payments++;
  }
  return { users: plan.users, products: plan.products, orders: plan.orders, order_items: items, payments };
}
