/**
 * The largest amount a payment can carry: `payments.amount_cents` is a
 * Postgres INTEGER (one of ShopCo's legacy quirks), so orders above it could
 * never be paid and are refused when placed.
 */
export const MAX_PAYABLE_CENTS = 2_147_483_647;
